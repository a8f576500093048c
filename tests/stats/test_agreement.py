"""Reader agreement against R (psych 2.x, reference.json), published values and hand arithmetic."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.stats.agreement import (
    bland_altman,
    cohen_kappa,
    grade_agreement,
    grade_pairs,
    icc_per_score,
    intraclass_correlation,
)

# `reference` and `reference_csv` come from tests/stats/conftest.py (they skip without the data).
REL = 1e-6

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = pd.DataFrame(
    {
        "judge1": [9, 6, 8, 7, 10, 6],
        "judge2": [2, 1, 4, 1, 5, 2],
        "judge3": [5, 3, 6, 2, 6, 4],
        "judge4": [8, 2, 8, 6, 9, 7],
    }
)


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    return wide.reset_index(names="target").melt(
        id_vars="target", var_name="rater", value_name="score"
    )


def test_kappa_matches_r_psych_for_two_readers(reference, reference_csv):
    grades = reference_csv("kappa_two_readers.csv")
    expected = reference["kappa_two_readers"]
    result = cohen_kappa(grades["reader_a"], grades["reader_b"])
    assert result.n_pairs == 120
    assert result.kappa_unweighted == pytest.approx(expected["unweighted"], rel=REL)
    assert result.kappa_linear == pytest.approx(expected["linear"], rel=REL)
    assert result.kappa_quadratic == pytest.approx(expected["quadratic"], rel=REL)
    assert result.percent_agreement == pytest.approx(expected["percent_agreement"], rel=REL)


def test_kappa_by_hand_for_four_pairs():
    # p_o = 3/4; p_e = .5*.25 + .25*.5 + .25*.25 = .3125; kappa = .4375 / .6875 = 7/11
    result = cohen_kappa([0, 1, 2, 0], [0, 1, 2, 1])
    assert result.kappa_unweighted == pytest.approx(7 / 11)
    assert result.percent_agreement == pytest.approx(0.75)


def test_linear_kappa_by_hand_weights_a_two_grade_miss_twice_a_one_grade_miss():
    # w = |i-j|/2; O: (0,0), (2,2), (0,2) at 1/3 each; margins a (2/3, 0, 1/3), b (1/3, 0, 2/3)
    # sum wO = 1 * 1/3; sum wE = 1 * (2/3 * 2/3) + 1 * (1/3 * 1/3) = 5/9; kappa = 1 - 3/5 = 0.4
    result = cohen_kappa([0, 2, 0], [0, 2, 2])
    assert result.kappa_linear == pytest.approx(0.4)


def test_kappa_drops_pairs_with_an_na_and_counts_them():
    result = cohen_kappa([0, 1, 2, 0, np.nan], [0, 1, 2, 1, 2])
    assert (result.n_pairs, result.n_na) == (4, 1)
    assert result.kappa_unweighted == pytest.approx(7 / 11)


def test_kappa_is_undefined_when_both_readers_give_one_grade_throughout():
    result = cohen_kappa([0, 0, 0], [0, 0, 0])
    assert math.isnan(result.kappa_quadratic)
    assert result.percent_agreement == 1.0
    assert result.to_dict()["kappa_unweighted"] is None


def test_kappa_rejects_a_grade_outside_the_scale():
    with pytest.raises(ValueError, match="outside the scale"):
        cohen_kappa([0, 1, 3], [0, 1, 2])


def test_grade_agreement_reports_each_muscle_and_all_muscles_pooled():
    pairs = pd.DataFrame(
        {
            "muscle": ["deltoid"] * 4 + ["soleus"] * 4,
            "grade_a": [0, 1, 2, 1, 0, 1, 2, 0],
            "grade_b": [0, 1, 2, 1, 0, 1, 2, 1],
        }
    )
    result = grade_agreement(pairs)
    by_muscle = result.per_muscle.set_index("muscle")
    assert by_muscle.loc["deltoid", "kappa_unweighted"] == pytest.approx(1.0)
    assert by_muscle.loc["soleus", "kappa_unweighted"] == pytest.approx(7 / 11)
    # pooled: p_o = 7/8; a counts (3,3,2), b counts (2,4,2): p_e = 22/64; kappa = 17/21
    assert result.pooled.kappa_unweighted == pytest.approx(17 / 21)
    assert result.pooled.n_pairs == 8
    json.dumps(result.to_dict(), allow_nan=False)


def test_grade_agreement_keeps_a_muscle_without_any_complete_pair():
    pairs = pd.DataFrame(
        {
            "muscle": ["deltoid", "deltoid", "soleus"],
            "grade_a": [0, 2, np.nan],
            "grade_b": [0, 2, 1],
        }
    )
    soleus = grade_agreement(pairs).per_muscle.set_index("muscle").loc["soleus"]
    assert soleus["n_pairs"] == 0 and soleus["n_na"] == 1
    assert math.isnan(soleus["kappa_linear"])


def test_grade_pairs_pairs_two_reads_cell_by_cell():
    first = pd.DataFrame(
        {"study_id": [1, 1, 1], "muscle": ["a", "a", "b"], "side": ["L", "R", "L"], "u": [0, 1, 2]}
    )
    second = pd.DataFrame(
        {"study_id": [1, 1], "muscle": ["a", "b"], "side": ["R", "L"], "u": [2, 2]}
    )
    pairs = grade_pairs(first, second).sort_values(["muscle", "side"])
    assert pairs[["muscle", "side", "grade_a", "grade_b"]].values.tolist() == [
        ["a", "R", 1, 2],
        ["b", "L", 2, 2],
    ]


@pytest.mark.parametrize("form", ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"])
def test_icc_matches_r_psych_for_shrout_fleiss(reference, reference_csv, form):
    wide = reference_csv("icc_shrout_fleiss.csv")
    expected = reference["icc_shrout_fleiss"][form]
    result = intraclass_correlation(_long(wide)).form(form)
    assert result.icc == pytest.approx(expected["icc"], rel=REL)
    assert [result.ci_low, result.ci_high] == pytest.approx(expected["ci95"], rel=REL)
    assert result.f == pytest.approx(expected["F"], rel=REL)
    assert result.p == pytest.approx(expected["p"], rel=REL)


@pytest.mark.parametrize(
    ("form", "published"),
    [
        ("ICC1", 0.17),
        ("ICC2", 0.29),
        ("ICC3", 0.71),
        ("ICC1k", 0.44),
        ("ICC2k", 0.62),
        ("ICC3k", 0.91),
    ],
)
def test_icc_agrees_with_shrout_fleiss_1979_to_the_published_two_decimals(form, published):
    result = intraclass_correlation(_long(SHROUT_FLEISS))
    assert result.form(form).icc == pytest.approx(published, abs=0.005)
    assert (result.n_targets, result.n_raters) == (6, 4)


def test_icc_drops_a_target_without_every_rating():
    ratings = _long(SHROUT_FLEISS)
    extra = pd.DataFrame({"target": [6, 6], "rater": ["judge1", "judge2"], "score": [3, 4]})
    result = intraclass_correlation(pd.concat([ratings, extra]))
    assert (result.n_targets, result.n_targets_dropped) == (6, 1)
    assert result.form("ICC3").icc == pytest.approx(0.71, abs=0.005)


def test_icc_refuses_two_scores_for_one_target_and_rater():
    ratings = _long(SHROUT_FLEISS)
    with pytest.raises(ValueError, match="More than one score"):
        intraclass_correlation(pd.concat([ratings, ratings.head(1)]))


def test_icc_per_score_gives_six_forms_per_score_and_ignores_the_unit():
    ratings = _long(SHROUT_FLEISS)
    ratings["total"] = ratings["score"] * 10  # ICC is invariant to a change of unit
    table = icc_per_score(ratings, score_cols=["score", "total"])
    assert len(table) == 12
    icc2 = table[table["form"] == "ICC2"].set_index("score")["icc"]
    assert icc2["total"] == pytest.approx(icc2["score"])


def test_bland_altman_matches_r_for_judges_2_and_4(reference, reference_csv):
    wide = reference_csv("icc_shrout_fleiss.csv")
    expected = reference["bland_altman_judges_2_4"]
    result = bland_altman(wide["judge2"], wide["judge4"])
    assert result.n == 6
    assert result.mean_difference == pytest.approx(expected["mean_difference"], rel=REL)
    assert result.sd == pytest.approx(expected["sd"], rel=REL)
    assert [result.loa_low, result.loa_high] == pytest.approx(expected["loa"], rel=REL)


def test_bland_altman_by_hand_drops_incomplete_pairs():
    # d = (2, 3, 0): mean 5/3; SD = sqrt(((1/3)^2 + (4/3)^2 + (5/3)^2) / 2) = sqrt(7/3)
    result = bland_altman([3, 5, 4, np.nan], [1, 2, 4, 7])
    assert result.n == 3
    assert result.mean_difference == pytest.approx(5 / 3)
    assert result.sd == pytest.approx(math.sqrt(7 / 3))
    assert result.loa_high == pytest.approx(5 / 3 + 1.96 * math.sqrt(7 / 3))
    json.dumps(result.to_dict(), allow_nan=False)
