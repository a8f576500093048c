"""Clinical OLS and Spearman against R (reference.json), a textbook data set and by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics.stats import clinical_regression, linear_fit, to_records

REL = 1e-6


@pytest.fixture
def cohort30(reference_csv) -> pd.DataFrame:
    return reference_csv("cohort30.csv")


def overall(result: pd.DataFrame) -> pd.Series:
    return result.set_index("scope").loc["all"]


def assert_matches_r(row: pd.Series, expected: dict) -> None:
    assert row["n"] == expected["n"]
    assert row["intercept"] == pytest.approx(expected["intercept"], rel=REL)
    assert row["slope"] == pytest.approx(expected["slope"], rel=REL)
    assert row["slope_ci_low"] == pytest.approx(expected["slope_ci95"][0], rel=REL)
    assert row["slope_ci_high"] == pytest.approx(expected["slope_ci95"][1], rel=REL)
    assert row["r_squared"] == pytest.approx(expected["r_squared"], rel=REL)
    assert row["p"] == pytest.approx(expected["p"], rel=REL)


def test_ols_on_cars_matches_r_and_ezekiel(reference_csv, reference):
    cars = reference_csv("ols_cars.csv")
    row = overall(clinical_regression(cars, outcome="dist", predictor="speed", subtype_col=None))
    assert_matches_r(row, reference["ols_cars"])
    # The published rounding: slope 3.932, intercept -17.579, R^2 0.6511.
    assert (round(row["slope"], 3), round(row["intercept"], 3)) == (3.932, -17.579)
    assert round(row["r_squared"], 4) == 0.6511


def test_mmt8_on_total_drops_and_counts_missing_outcomes(cohort30, reference):
    row = overall(clinical_regression(cohort30, outcome="mmt8"))
    assert_matches_r(row, reference["ols_mmt8_cohort30"])
    assert (row["n"], row["n_dropped"]) == (28, 2)  # P04 and P17 have no MMT-8
    expected = reference["spearman_mmt8_cohort30"]
    assert row["spearman_rho"] == pytest.approx(expected["rho"], rel=REL)
    assert row["spearman_p"] == pytest.approx(expected["p"], rel=REL)


def test_ck_on_total_matches_r_raw_and_log10(cohort30, reference):
    raw = overall(clinical_regression(cohort30, outcome="ck"))
    assert_matches_r(raw, reference["ols_ck_cohort30"])
    assert raw["spearman_rho"] == pytest.approx(reference["spearman_ck_cohort30"]["rho"], rel=REL)
    assert raw["spearman_p"] == pytest.approx(reference["spearman_ck_cohort30"]["p"], rel=REL)
    logged = overall(clinical_regression(cohort30, outcome="ck", log10=True))
    assert_matches_r(logged, reference["ols_log10ck_cohort30"])
    assert logged["outcome"] == "log10(ck)"


def test_ck_of_zero_or_below_is_dropped_and_counted_before_log10(cohort30, reference):
    extra = pd.DataFrame({"subtype": ["DM", "PM"], "total": [10.0, 20.0], "ck": [0, -5]})
    row = overall(clinical_regression(pd.concat([cohort30, extra]), outcome="ck", log10=True))
    assert (row["n_nonpositive"], row["n_dropped"]) == (2, 0)
    assert_matches_r(row, reference["ols_log10ck_cohort30"])  # the two rows change nothing


def test_subtypes_below_the_minimum_are_reported_as_too_few(cohort30):
    result = clinical_regression(cohort30, outcome="mmt8").set_index("scope")
    # Subtypes have 7, 5, 6, 5 and 7 patients (6 and 5 with MMT-8): all below 8.
    assert list(result.index) == ["all", "IBM", "DM", "PM", "ASYS", "IMNM"]
    assert set(result.loc[["IBM", "DM", "PM", "ASYS", "IMNM"], "status"]) == {"too few"}
    assert result.loc["IBM", "n"] == 6 and np.isnan(result.loc["IBM", "slope"])
    assert result.loc["all", "status"] == "ok"
    fitted = clinical_regression(cohort30, outcome="mmt8", min_n=7).set_index("scope")
    assert list(fitted["status"]) == ["ok", "too few", "too few", "too few", "too few", "ok"]


def test_a_subtype_fit_worked_by_hand():
    frame = pd.DataFrame(
        {
            "subtype": ["DM"] * 4 + ["IBM"] * 2,
            "total": [0, 1, 2, 3, 5, 6],
            "mmt8": [1, 3, 2, 5, 9, 9],
        }
    )
    dm = clinical_regression(frame, outcome="mmt8", min_n=3).set_index("scope").loc["DM"]
    # x mean 1.5, y mean 2.75; Sxy = 5.5, Sxx = 5, so slope 1.1, intercept 2.75 - 1.65.
    assert dm["slope"] == pytest.approx(1.1) and dm["intercept"] == pytest.approx(1.1)
    assert dm["r_squared"] == pytest.approx(6.05 / 8.75)  # slope * Sxy / SS_tot
    assert dm["spearman_rho"] == pytest.approx(0.8)  # 1 - 6 * (0 + 1 + 1 + 0) / (4 * 15)


def test_a_constant_outcome_is_reported_as_no_variation():
    frame = pd.DataFrame({"subtype": ["DM"] * 8, "total": range(8), "mmt8": [150] * 8})
    result = clinical_regression(frame, outcome="mmt8").set_index("scope")
    assert set(result["status"]) == {"no variation"}


def test_missing_total_is_dropped_and_counted_too():
    frame = pd.DataFrame(
        {"total": [1.0, 2.0, np.nan, 4.0, 5.0], "mmt8": [140, 130, 120, np.nan, 100]}
    )
    row = overall(clinical_regression(frame, outcome="mmt8", subtype_col=None, min_n=3))
    assert (row["n"], row["n_dropped"]) == (3, 2)


def test_linear_fit_refuses_unusable_input():
    with pytest.raises(ValueError, match="at least 3"):
        linear_fit([1, 2], [3, 4])
    with pytest.raises(ValueError, match="missing"):
        linear_fit([1, 2, np.nan], [3, 4, 5])
    with pytest.raises(ValueError, match="vary"):
        linear_fit([1, 1, 1], [3, 4, 5])
    with pytest.raises(ValueError, match="min_n"):
        clinical_regression(pd.DataFrame({"total": [1], "mmt8": [1]}), subtype_col=None, min_n=2)
    with pytest.raises(ValueError, match="lacks the column"):
        clinical_regression(pd.DataFrame({"total": [1]}), outcome="mmt8", subtype_col=None)


def test_results_serialise_to_json_with_undefined_values_as_null(cohort30):
    result = clinical_regression(cohort30, outcome="mmt8")
    records = json.loads(json.dumps(to_records(result), allow_nan=False))
    ibm = next(record for record in records if record["scope"] == "IBM")
    assert ibm["slope"] is None and ibm["status"] == "too few"
    fit = linear_fit([0, 1, 2, 3], [1, 3, 2, 5]).to_dict()
    assert fit["n"] == 4 and fit["slope"] == pytest.approx(1.1)
