"""The Table 1 frame on a hand-made cohort; expected numbers by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.stats import describe_cohort, to_records

NA = np.nan


@pytest.fixture
def patients() -> pd.DataFrame:
    columns = [
        "patient_id", "timepoint", "subtype", "sex", "age", "disease_duration_months", "mmt8",
        "ck", "treatment_naive", "antibodies", "seronegative",
    ]  # fmt: skip
    rows = [
        (1, 0, "IBM", "F", 60, 24, 130, 400, True, ["Jo-1"], False),
        (1, 1, "IBM", "F", 61, 36, 120, 300, False, ["Jo-1"], False),  # follow-up, not Table 1
        (2, 0, "IBM", "M", 70, 48, 120, NA, NA, [], True),
        (3, 0, "IBM", "M", 65, 12, 140, 800, False, ["HMGCR", "Ro52"], False),
        (4, 0, "DM", "F", 40, 6, 110, 2000, True, ["TIF1-γ"], False),
        (5, 0, "DM", "F", 50, NA, 100, 1000, True, ["TIF1-γ", "Ro52"], False),
    ]
    return pd.DataFrame(rows, columns=columns)


def value(table, variable, subtype, statistic, level=None):
    match = (table["variable"] == variable) & (table["subtype"] == subtype)
    match &= table["statistic"] == statistic
    match &= table["level"].isna() if level is None else table["level"] == level
    (found,) = table.loc[match, "value"]
    return found


def test_table_lists_subtypes_in_order_then_all(patients):
    table = describe_cohort(patients)
    assert list(table["subtype"].unique()) == ["IBM", "DM", "all"]
    assert list(table.columns) == ["variable", "level", "subtype", "statistic", "value"]
    assert value(table, "patients", "IBM", "n") == 3  # patient 1 counted once, at baseline
    assert value(table, "patients", "all", "n") == 5


def test_continuous_variables_give_median_quartiles_range_and_n(patients):
    table = describe_cohort(patients)
    ibm = {s: value(table, "age", "IBM", s) for s in ("n", "median", "q1", "q3", "min", "max")}
    # Ages 60, 65, 70; type-7 quartiles at positions 0.5 and 1.5: 62.5 and 67.5.
    assert ibm == {"n": 3, "median": 65, "q1": 62.5, "q3": 67.5, "min": 60, "max": 70}
    # All ages 40, 50, 60, 65, 70: quartiles at positions 1 and 3.
    assert value(table, "age", "all", "q1") == 50 and value(table, "age", "all", "q3") == 65
    assert value(table, "ck", "IBM", "n") == 2  # patient 2 has no CK
    assert value(table, "ck", "IBM", "median") == 600  # (400 + 800) / 2
    assert value(table, "disease_duration_months", "DM", "n") == 1


def test_sex_gives_counts_and_the_female_to_male_ratio(patients):
    table = describe_cohort(patients)
    assert value(table, "sex", "IBM", "n", "F") == 1 and value(table, "sex", "IBM", "n", "M") == 2
    assert value(table, "sex", "IBM", "ratio", "F:M") == 0.5  # 1 / 2
    assert value(table, "sex", "all", "ratio", "F:M") == 1.5  # 3 / 2
    assert math.isnan(value(table, "sex", "DM", "ratio", "F:M"))  # no men: undefined


def test_treatment_naive_counts_known_patients_only(patients):
    table = describe_cohort(patients)
    # IBM: True, unknown, False -> 1 of 2 known.
    assert (
        value(table, "treatment_naive", "IBM", "n"),
        value(table, "treatment_naive", "IBM", "N"),
    ) == (1, 2)
    assert value(table, "treatment_naive", "all", "n") == 3  # 1 + 2 DM


def test_antibodies_are_counted_per_subtype_in_the_usual_order(patients):
    table = describe_cohort(patients)
    antibodies = table[table["variable"] == "antibody"]
    assert list(antibodies["level"].unique()) == ["Jo-1", "TIF1-γ", "HMGCR", "Ro52"]
    assert value(table, "antibody", "all", "n", "Ro52") == 2
    assert value(table, "antibody", "IBM", "n", "TIF1-γ") == 0
    assert value(table, "seronegative", "IBM", "n") == 1


def test_a_later_timepoint_can_be_described(patients):
    table = describe_cohort(patients, timepoint=1)
    assert value(table, "patients", "all", "n") == 1
    assert value(table, "age", "all", "median") == 61


def test_unusable_patients_are_refused(patients):
    with pytest.raises(ValueError, match="more than one row"):
        describe_cohort(pd.concat([patients, patients.iloc[:1]]))
    with pytest.raises(ValueError, match="no patients at timepoint"):
        describe_cohort(patients, timepoint=5)
    with pytest.raises(ValueError, match="lacks the column"):
        describe_cohort(patients.drop(columns="ck"))
    missing = patients.copy()
    missing.loc[0, "subtype"] = None
    with pytest.raises(ValueError, match="needs a subtype"):
        describe_cohort(missing)


def test_table_serialises_to_json(patients):
    records = json.loads(json.dumps(to_records(describe_cohort(patients)), allow_nan=False))
    ratio = next(r for r in records if r["subtype"] == "DM" and r["statistic"] == "ratio")
    assert ratio["value"] is None
