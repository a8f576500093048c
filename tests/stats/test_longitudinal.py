"""Longitudinal change on hand-worked timepoints."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from analytics.stats import to_records
from analytics.stats.longitudinal import change_summary, patient_rates, score_changes

NA = float("nan")

# Days chosen as multiples of 365.25 / 2 so the years are exact.
VISITS = pd.DataFrame(
    {
        "patient_id": ["A", "A", "A", "B", "B", "C"],
        "subtype": ["DM", "DM", "DM", "IBM", "IBM", "DM"],
        "timepoint": [0, 1, 2, 0, 1, 0],
        "days_from_baseline": [0.0, 365.25, 730.5, 0.0, 182.625, 0.0],
        "thigh": [1.0, NA, 0.5, 0.0, 0.5, 1.0],
        "total": [10.0, 8.0, 5.0, 3.0, 4.0, 2.0],
    }
)


def _row(table: pd.DataFrame, patient: str, score: str, to: int) -> pd.Series:
    chosen = table[
        (table["patient_id"] == patient) & (table["score"] == score) & (table["timepoint_to"] == to)
    ]
    assert len(chosen) == 1
    return chosen.iloc[0]


def test_consecutive_intervals_give_change_and_change_per_year():
    table = score_changes(VISITS)
    # A total, t1 -> t2: 5 - 8 = -3 over 365.25 days = 1 year -> -3 / year
    row = _row(table, "A", "total", 2)
    assert (row["timepoint_from"], row["change"], row["change_per_year"]) == (1, -3.0, -3.0)
    # B total, t0 -> t1: 4 - 3 = 1 over half a year -> 2 / year
    assert _row(table, "B", "total", 1)["change_per_year"] == pytest.approx(2.0)
    # B thigh: 0.5 - 0 = 0.5 over 0.5 years -> 1 / year
    assert _row(table, "B", "thigh", 1)["change_per_year"] == pytest.approx(1.0)


def test_a_missing_score_gives_no_change_for_its_intervals():
    table = score_changes(VISITS)
    assert math.isnan(_row(table, "A", "thigh", 1)["change"])
    assert math.isnan(_row(table, "A", "thigh", 2)["change"])


def test_patients_with_one_timepoint_have_no_interval_and_rows_are_tidy():
    table = score_changes(VISITS)
    assert "C" not in set(table["patient_id"])
    # A: 2 intervals x 2 scores, B: 1 interval x 2 scores
    assert len(table) == 6
    assert table["score"].tolist()[:2] == ["thigh", "total"]


def test_baseline_reference_compares_every_visit_with_the_first():
    table = score_changes(VISITS, reference="baseline")
    # A thigh, t0 -> t2: 0.5 - 1 = -0.5 over 2 years -> -0.25 / year
    row = _row(table, "A", "thigh", 2)
    assert (row["timepoint_from"], row["interval_years"]) == (0, 2.0)
    assert row["change_per_year"] == pytest.approx(-0.25)


def test_visits_are_ordered_by_days_not_by_row_order():
    shuffled = VISITS.iloc[[2, 4, 0, 5, 1, 3]]
    assert _row(score_changes(shuffled), "A", "total", 1)["change"] == -2.0  # 8 - 10


def test_two_visits_on_one_day_are_refused():
    twice = pd.concat([VISITS, VISITS.head(1)])
    with pytest.raises(ValueError, match="same day"):
        score_changes(twice)


def test_patient_rate_spans_the_first_to_the_last_known_value():
    rates = patient_rates(VISITS).set_index(["patient_id", "score"])
    # A thigh: known at day 0 (1.0) and day 730.5 (0.5): -0.5 / 2 years; the NA visit is skipped
    assert rates.loc[("A", "thigh"), "change_per_year"] == pytest.approx(-0.25)
    assert rates.loc[("A", "thigh"), "n_timepoints"] == 2
    # A total: (5 - 10) / 2 years
    assert rates.loc[("A", "total"), "change_per_year"] == pytest.approx(-2.5)
    assert ("C", "total") not in rates.index


def test_summary_gives_median_change_per_year_per_subtype_and_overall():
    summary = change_summary(VISITS).set_index(["subtype", "score"])
    assert summary.loc[("DM", "total"), "n_patients"] == 1  # C has a single visit
    assert summary.loc[("DM", "total"), "median_change_per_year"] == pytest.approx(-2.5)
    # all, total: median of (-2.5, 2.0) = -0.25
    assert summary.loc[("all", "total"), "median_change_per_year"] == pytest.approx(-0.25)
    assert summary.loc[("all", "total"), "n_patients"] == 2
    json.dumps(to_records(summary.reset_index()), allow_nan=False)


def test_summary_says_too_few_below_its_minimum_instead_of_a_median():
    summary = change_summary(VISITS, min_n=2).set_index(["subtype", "score"])
    dm = summary.loc[("DM", "total")]
    assert dm["n_patients"] == 1 and math.isnan(dm["median_change_per_year"])
    assert dm["status"] == "too few (n = 1, minimum 2)"
    assert summary.loc[("all", "total"), "status"] == "ok"
