"""Subtype profiles, Kruskal-Wallis and Dunn against R (reference.json) and by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs

from analytics.stats import (
    dunn_by_group,
    group_profile,
    kruskal_by_group,
    limb_profile,
    to_records,
)

REL = 1e-6


def one_group(values, subtypes, group="g") -> pd.DataFrame:
    return pd.DataFrame(
        {"patient_id": range(len(values)), "group": group, "score": values, "subtype": subtypes}
    )


@pytest.fixture
def cohort30(reference_csv) -> pd.DataFrame:
    coh = reference_csv("cohort30.csv")
    return one_group(coh["group_score"], coh["subtype"], group="gluteal")


@pytest.fixture
def hollander_wolfe(reference_csv) -> pd.DataFrame:
    hw = reference_csv("kw_hollander_wolfe.csv")
    return one_group(hw["value"], hw["group"], group="mucociliary")


def test_kruskal_wallis_without_ties_matches_hollander_wolfe(hollander_wolfe, reference):
    row = kruskal_by_group(hollander_wolfe).iloc[0]
    expected = reference["kw_hollander_wolfe"]
    assert row["status"] == "ok"
    assert row["H"] == pytest.approx(expected["H"], rel=REL)
    assert row["df"] == expected["df"]
    assert row["p"] == pytest.approx(expected["p"], rel=REL)
    assert (round(row["H"], 4), round(row["p"], 2)) == (0.7714, 0.68)  # as published, p. 116


def test_kruskal_wallis_with_ties_and_missing_values_matches_r_airquality(reference_csv, reference):
    aq = reference_csv("kw_airquality.csv")
    row = kruskal_by_group(one_group(aq["Ozone"], aq["Month"].astype(str))).iloc[0]
    expected = reference["kw_airquality"]
    assert row["n"] == expected["n_used"] == 116  # 37 missing Ozone values dropped
    assert row["H"] == pytest.approx(expected["H"], rel=REL)
    assert row["df"] == expected["df"]
    assert row["p"] == pytest.approx(expected["p"], rel=REL)


def test_kruskal_wallis_on_the_cohort_gives_r_h_p_and_epsilon_squared(cohort30, reference):
    row = kruskal_by_group(cohort30).iloc[0]
    expected = reference["kw_cohort30"]
    assert row["H"] == pytest.approx(expected["H"], rel=REL)
    assert row["df"] == expected["df"] == 4
    assert row["p"] == pytest.approx(expected["p"], rel=REL)
    assert row["epsilon_squared"] == pytest.approx(expected["epsilon_squared"], rel=REL)
    assert row["n_per_subtype"] == {"IBM": 7, "DM": 5, "PM": 6, "ASYS": 5, "IMNM": 7}


def test_group_p_values_are_corrected_across_groups(cohort30, hollander_wolfe, reference):
    both = pd.concat([cohort30, hollander_wolfe.assign(patient_id=lambda f: f.patient_id + 100)])
    p1, p2 = reference["kw_cohort30"]["p"], reference["kw_hollander_wolfe"]["p"]
    holm = kruskal_by_group(both).set_index("group")["p_adj"]
    # Holm, two tests: smallest p times 2, then max(previous, p times 1).
    assert holm["gluteal"] == pytest.approx(2 * p1, rel=REL)
    assert holm["mucociliary"] == pytest.approx(max(2 * p1, p2), rel=REL)
    bh = kruskal_by_group(both, correction="fdr_bh").set_index("group")["p_adj"]
    # Benjamini-Hochberg: p_(i) * m / i, here p1 * 2 / 1 and p2 * 2 / 2.
    assert bh["gluteal"] == pytest.approx(2 * p1, rel=REL)
    assert bh["mucociliary"] == pytest.approx(p2, rel=REL)


def test_a_group_without_variation_is_reported_not_raised(cohort30):
    flat = one_group([0.0] * 6, ["IBM", "IBM", "DM", "DM", "PM", "PM"], group="chest-wall")
    result = kruskal_by_group(pd.concat([cohort30, flat])).set_index("group")
    assert result.loc["chest-wall", "status"] == "no variation"
    assert math.isnan(result.loc["chest-wall", "H"]) and math.isnan(result.loc["chest-wall", "p"])
    # The flat group is no test, so the cohort group's Holm p is its own p (a family of one).
    assert result.loc["gluteal", "p_adj"] == pytest.approx(result.loc["gluteal", "p"], rel=REL)


def test_a_group_with_one_subtype_or_only_na_has_insufficient_data():
    frame = pd.concat(
        [
            one_group([0.5, 1.0, 1.5], ["DM", "DM", "DM"], group="rotator-cuff"),
            one_group([np.nan, np.nan], ["DM", "IBM"], group="multifidus-only"),
        ]
    )
    result = kruskal_by_group(frame).set_index("group")
    assert list(result["status"]) == ["insufficient data", "insufficient data"]
    assert result.loc["rotator-cuff", "n_per_subtype"] == {"DM": 3}
    assert result.loc["multifidus-only", "n"] == 0


def test_other_is_left_out_of_the_comparison_unless_asked_for():
    frame = one_group([0.0, 0.5, 1.0, 1.5], ["DM", "DM", "other", "other"])
    assert kruskal_by_group(frame).iloc[0]["status"] == "insufficient data"
    with_other = kruskal_by_group(frame, subtypes=["DM", "other"]).iloc[0]
    assert with_other["status"] == "ok" and with_other["k"] == 2


def test_a_patient_listed_twice_for_a_group_is_refused(cohort30):
    with pytest.raises(ValueError, match="select one timepoint"):
        kruskal_by_group(pd.concat([cohort30, cohort30.iloc[:1]]))


def test_an_unknown_correction_is_refused(cohort30):
    with pytest.raises(ValueError, match="correction must be"):
        kruskal_by_group(cohort30, correction="sidak")


def test_dunn_z_p_holm_and_bh_match_r(cohort30, reference):
    holm = dunn_by_group(cohort30)
    bh = dunn_by_group(cohort30, correction="fdr_bh")
    expected = pd.DataFrame(reference["dunn_cohort30"])
    assert holm[["a", "b"]].values.tolist() == expected[["a", "b"]].values.tolist()
    np.testing.assert_allclose(holm["z"], expected["z"], rtol=REL)
    np.testing.assert_allclose(holm["p"], expected["p"], rtol=REL)
    np.testing.assert_allclose(holm["p_adj"], expected["p_holm"], rtol=REL)
    np.testing.assert_allclose(bh["p_adj"], expected["p_bh"], rtol=REL)


def test_dunn_z_is_positive_when_a_ranks_higher(cohort30):
    pairs = dunn_by_group(cohort30).set_index(["a", "b"])
    dm_asys = pairs.loc[("DM", "ASYS")]  # DM scores 1.5 throughout, ASYS 0
    assert dm_asys["z"] > 0 and dm_asys["mean_rank_a"] > dm_asys["mean_rank_b"]


def test_dunn_p_values_agree_with_scikit_posthocs(cohort30):
    ours = dunn_by_group(cohort30).set_index(["a", "b"])["p"]
    theirs = scikit_posthocs.posthoc_dunn(cohort30, val_col="score", group_col="subtype")
    for (a, b), p in ours.items():
        assert p == pytest.approx(theirs.loc[a, b], rel=REL)


def test_dunn_skips_groups_without_variation(cohort30):
    flat = one_group([1.0] * 4, ["IBM", "IBM", "DM", "DM"], group="chest-wall")
    pairs = dunn_by_group(pd.concat([cohort30, flat]))
    assert set(pairs["group"]) == {"gluteal"} and len(pairs) == 10


def test_group_profile_gives_mean_median_sd_and_n_per_subtype():
    frame = pd.concat(
        [
            one_group([0.0, 1.0, 2.0, 2.0, np.nan], ["DM", "DM", "DM", "IBM", "IBM"], "gluteal"),
            one_group([0.5, 0.5, 1.5, 1.0, 1.0], ["DM", "DM", "DM", "IBM", "IBM"], "ventral"),
        ]
    )
    profile = group_profile(frame).set_index(["group", "subtype"])
    dm = profile.loc[("gluteal", "DM")]
    assert (dm["mean"], dm["median"], dm["n"]) == (1.0, 1.0, 3)  # (0 + 1 + 2) / 3
    assert dm["sd"] == pytest.approx(1.0)  # sqrt(((-1)^2 + 0 + 1^2) / (3 - 1))
    ibm = profile.loc[("gluteal", "IBM")]
    assert (ibm["mean"], ibm["n"]) == (2.0, 1) and math.isnan(ibm["sd"])  # NA skipped
    overall = profile.loc[("gluteal", "all")]
    assert (overall["mean"], overall["median"], overall["n"]) == (1.25, 1.5, 4)  # 5 / 4
    assert profile.loc[("ventral", "DM"), "mean"] == pytest.approx(2.5 / 3)
    assert list(profile.index) == [
        ("gluteal", "IBM"), ("gluteal", "DM"), ("gluteal", "all"),
        ("ventral", "IBM"), ("ventral", "DM"), ("ventral", "all"),
    ]  # fmt: skip


def test_limb_profile_summarises_upper_and_lower_sums_per_subtype():
    frame = pd.DataFrame(
        {
            "patient_id": [1, 1, 2, 2, 3, 3],
            "limb": ["upper", "lower", "upper", "lower", "upper", "lower"],
            "score": [4.0, 20.0, 6.0, 10.0, 30.0, 2.0],
            "subtype": ["IBM", "IBM", "IBM", "IBM", "DM", "DM"],
        }
    )
    profile = limb_profile(frame, include_overall=False).set_index(["limb", "subtype"])
    assert profile.loc[("upper", "IBM"), "mean"] == 5.0  # (4 + 6) / 2
    assert profile.loc[("lower", "IBM"), "median"] == 15.0  # (20 + 10) / 2
    assert profile.loc[("upper", "DM"), "n"] == 1
    assert "all" not in profile.index.get_level_values("subtype")


def test_comparison_results_serialise_to_json(cohort30):
    frame = pd.concat([cohort30, one_group([0.0] * 4, ["IBM", "IBM", "DM", "DM"], "flat")])
    for result in (kruskal_by_group(frame), dunn_by_group(frame), group_profile(frame)):
        json.dumps(to_records(result), allow_nan=False)
