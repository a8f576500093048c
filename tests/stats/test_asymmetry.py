"""Left-right asymmetry on hand-worked grades."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from analytics.stats.asymmetry import (
    asymmetry_by_subtype,
    group_asymmetry,
    muscle_asymmetry,
    patient_asymmetry,
)

NA = float("nan")


def grades(cells: list[tuple]) -> pd.DataFrame:
    """Long unified grades from (read_id, patient_id, muscle, group, u_left, u_right)."""
    rows = []
    for read_id, patient_id, muscle, group, left, right in cells:
        for side, u in (("L", left), ("R", right)):
            rows.append(
                {
                    "read_id": read_id,
                    "patient_id": patient_id,
                    "muscle": muscle,
                    "group": group,
                    "side": side,
                    "u": u,
                }
            )
    return pd.DataFrame(rows)


ONE_READ = grades(
    [
        (1, "P1", "deltoid", "shoulder", 2, 0),
        (1, "P1", "teres-major", "shoulder", 1, 1),
        (1, "P1", "soleus", "calf", 2, 1),
        (1, "P1", "tibialis-posterior", "calf", 0, 1),
        (1, "P1", "gracilis", "medial", NA, 2),
    ]
)


def test_muscle_difference_index_and_flag_follow_the_definitions():
    table = muscle_asymmetry(ONE_READ).set_index("muscle")
    # deltoid: d = 2 - 0 = 2, AI = |2| / 2 = 1, asymmetric as |d| >= 1
    assert table.loc["deltoid", ["diff", "ai"]].tolist() == [2.0, 1.0]
    assert bool(table.loc["deltoid", "asymmetric"]) is True
    # tibialis posterior: d = 0 - 1 = -1, AI = 0.5, asymmetric
    assert table.loc["tibialis-posterior", ["diff", "ai"]].tolist() == [-1.0, 0.5]
    # teres major: d = 0, not asymmetric
    assert bool(table.loc["teres-major", "asymmetric"]) is False


def test_a_muscle_with_one_side_na_has_no_difference_and_no_flag():
    gracilis = muscle_asymmetry(ONE_READ).set_index("muscle").loc["gracilis"]
    assert not gracilis["both_sides"]
    assert math.isnan(gracilis["diff"]) and gracilis["asymmetric"] is pd.NA


def test_group_difference_cancels_opposite_sides_but_the_index_does_not():
    table = group_asymmetry(ONE_READ).set_index("group")
    # shoulder: d = (2, 0) -> diff = 1; AI = (1 + 0) / 2 = 0.5; one asymmetric muscle
    assert table.loc["shoulder", ["diff", "ai", "n_asymmetric"]].tolist() == [1.0, 0.5, 1]
    # calf: d = (1, -1) -> diff = 0; AI = (0.5 + 0.5) / 2 = 0.5; two asymmetric muscles
    assert table.loc["calf", ["diff", "ai", "n_asymmetric"]].tolist() == [0.0, 0.5, 2]
    # calf sides: mean L = (2 + 0) / 2 = 1, mean R = (1 + 1) / 2 = 1
    assert table.loc["calf", ["u_left_mean", "u_right_mean"]].tolist() == [1.0, 1.0]
    # medial: no muscle graded on both sides
    assert table.loc["medial", "n_muscles_both_sides"] == 0
    assert math.isnan(table.loc["medial", "diff"])


def test_patient_proportion_counts_only_muscles_graded_on_both_sides():
    row = patient_asymmetry(ONE_READ).iloc[0]
    # 3 asymmetric (deltoid, soleus, tibialis posterior) of 4 graded on both sides
    assert (row["n_asymmetric"], row["n_muscles_both_sides"]) == (3, 4)
    assert row["proportion_asymmetric"] == pytest.approx(3 / 4)


def test_patient_without_any_bilateral_muscle_has_no_proportion():
    row = patient_asymmetry(grades([(2, "P2", "deltoid", "shoulder", NA, 1)])).iloc[0]
    assert row["n_muscles_both_sides"] == 0
    assert math.isnan(row["proportion_asymmetric"])


def test_midline_grades_are_ignored_and_duplicates_refused():
    midline = pd.DataFrame(
        [{"read_id": 1, "patient_id": "P1", "muscle": "x", "group": "g", "side": "midline", "u": 2}]
    )
    assert len(muscle_asymmetry(pd.concat([ONE_READ, midline]))) == 5
    with pytest.raises(ValueError, match="More than one unified grade"):
        muscle_asymmetry(pd.concat([ONE_READ, ONE_READ.head(1)]))


def _cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    cells = [
        # IBM-1: 1 of 2 asymmetric -> 0.5; IBM-2: 1 of 1 -> 1.0
        (1, "IBM-1", "a", "g", 2, 0),
        (1, "IBM-1", "b", "g", 1, 1),
        (2, "IBM-2", "a", "g", 0, 1),
        # DM-1: 0 of 1 -> 0; DM-2: 1 of 4 -> 0.25
        (3, "DM-1", "a", "g", 1, 1),
        (4, "DM-2", "a", "g", 2, 1),
        (4, "DM-2", "b", "g", 0, 0),
        (4, "DM-2", "c", "g", 1, 1),
        (4, "DM-2", "d", "g", 2, 2),
    ]
    patients = pd.DataFrame(
        {"patient_id": ["IBM-1", "IBM-2", "DM-1", "DM-2"], "subtype": ["IBM", "IBM", "DM", "DM"]}
    )
    return grades(cells), patients


def test_subtypes_are_compared_with_kruskal_wallis_by_hand():
    cohort, patients = _cohort()
    result = asymmetry_by_subtype(cohort, patients)
    # ranks 0 -> 1, .25 -> 2, .5 -> 3, 1 -> 4; R_IBM = 7, R_DM = 3
    # H = 12 / (4 * 5) * (49/2 + 9/2) - 3 * 5 = 2.4; df 1: p = erfc(sqrt(H / 2))
    assert result.h == pytest.approx(2.4)
    assert result.df == 1
    assert result.p == pytest.approx(math.erfc(math.sqrt(1.2)))
    table = result.per_subtype.set_index("subtype")
    # IBM (0.5 + 1) / 2 = 0.75; DM (0 + 0.25) / 2 = 0.125
    assert table.loc["IBM", "mean"] == pytest.approx(0.75)
    assert table.loc["DM", "median"] == pytest.approx(0.125)
    assert table["n_patients"].tolist() == [2, 2]
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_patient_read_twice_counts_once_with_the_mean_proportion():
    cohort, patients = _cohort()
    # IBM-2 read again by a second reader, symmetric: (1.0 + 0.0) / 2 = 0.5
    second = grades([(9, "IBM-2", "a", "g", 1, 1)])
    result = asymmetry_by_subtype(pd.concat([cohort, second]), patients)
    assert result.n_patients == 4
    # IBM: (0.5 + 0.5) / 2
    assert result.per_subtype.set_index("subtype").loc["IBM", "mean"] == pytest.approx(0.5)


def test_no_variation_is_reported_instead_of_a_statistic():
    cells = [(1, "A", "a", "g", 1, 1), (2, "B", "a", "g", 0, 0)]
    patients = pd.DataFrame({"patient_id": ["A", "B"], "subtype": ["IBM", "DM"]})
    result = asymmetry_by_subtype(grades(cells), patients)
    assert result.status == "no variation"
    assert result.to_dict()["h"] is None
