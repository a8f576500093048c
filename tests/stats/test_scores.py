"""Score definitions (DESIGN.md) on small hand-worked reads; expected numbers by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.stats import combine_reads, score_reads, unified_grades

# One read on the small atlas (arm: flexors a, b; extensors c. thigh: ventral d, e).
READ_ONE = {
    1: [
        ("a", "L", "STIR", 1), ("a", "L", "T1", 2),
        ("a", "R", "STIR", 0), ("a", "R", "T1", None),
        ("b", "L", "STIR", None), ("b", "L", "T1", None),
        ("b", "R", "STIR", None), ("b", "R", "T1", None),
        ("c", "L", "STIR", 2), ("c", "L", "T1", 1),  # c's right side was never graded
        ("d", "L", "STIR", 2), ("d", "L", "T1", 0),
        ("d", "R", "STIR", 0), ("d", "R", "T1", 1),
        ("e", "L", "STIR", 1), ("e", "L", "T1", 0),
        ("e", "R", "STIR", 0), ("e", "R", "T1", 0),
    ]
}  # fmt: skip


def _patients(grades: pd.DataFrame, atlas: pd.DataFrame):
    return combine_reads(score_reads(grades, atlas).muscle, atlas)


def muscle_scores(scores) -> dict[str, float]:
    return dict(zip(scores.muscle["muscle"], scores.muscle["score"], strict=True))


def level(frame: pd.DataFrame, column: str, unit: str) -> pd.Series:
    return frame.loc[frame[column] == unit].iloc[0]


def test_max_combine_takes_the_worse_sequence_and_means_the_sides(small_atlas, make_grades):
    scores = score_reads(make_grades(READ_ONE), small_atlas)
    s = muscle_scores(scores)
    assert s["a"] == 1.0  # u(L) = max(1, 2) = 2, u(R) = max(0, NA) = 0; (2 + 0) / 2
    assert math.isnan(s["b"])  # every cell NA
    assert s["c"] == 2.0  # only the left side: max(2, 1)
    assert s["d"] == 1.5  # (max(2, 0) + max(0, 1)) / 2
    assert s["e"] == 0.5  # (max(1, 0) + max(0, 0)) / 2
    sides = dict(zip(scores.muscle["muscle"], scores.muscle["n_sides"], strict=True))
    assert sides == {"a": 2, "b": 0, "c": 1, "d": 2, "e": 2}


def test_mean_combine_averages_the_available_sequences(small_atlas, make_grades):
    s = muscle_scores(score_reads(make_grades(READ_ONE), small_atlas, combine="mean"))
    assert s["a"] == 0.75  # u(L) = (1 + 2) / 2 = 1.5, u(R) = 0 (T1 NA ignored); (1.5 + 0) / 2
    assert s["c"] == 1.5  # (2 + 1) / 2, one side
    assert s["d"] == 0.75  # ((2 + 0) / 2 + (0 + 1) / 2) / 2
    assert s["e"] == 0.25  # ((1 + 0) / 2 + 0) / 2


def test_stir_only_and_t1_only_give_the_oedema_and_fat_sub_scores(small_atlas, make_grades):
    stir = score_reads(make_grades(READ_ONE), small_atlas, combine="STIR")
    t1 = score_reads(make_grades(READ_ONE), small_atlas, combine="T1")
    assert muscle_scores(stir) == pytest.approx(
        {"a": 0.5, "b": np.nan, "c": 2.0, "d": 1.0, "e": 0.5}, nan_ok=True
    )  # a: (1 + 0) / 2; d: (2 + 0) / 2; e: (1 + 0) / 2
    assert muscle_scores(t1) == pytest.approx(
        {"a": 2.0, "b": np.nan, "c": 1.0, "d": 0.5, "e": 0.0}, nan_ok=True
    )  # a: right T1 is NA so only the left 2 counts; d: (0 + 1) / 2
    assert stir.total["score"].iloc[0] == 4.0  # 0.5 + 2 + 1 + 0.5
    assert t1.total["score"].iloc[0] == 3.5  # 2 + 1 + 0.5 + 0


def test_max_over_sides_takes_the_worse_side(small_atlas, make_grades):
    scores = score_reads(make_grades(READ_ONE), small_atlas, sides="max")
    assert muscle_scores(scores) == pytest.approx(
        {"a": 2.0, "b": np.nan, "c": 2.0, "d": 2.0, "e": 1.0}, nan_ok=True
    )
    assert scores.total["score"].iloc[0] == 7.0  # 2 + 2 + 2 + 1


def test_group_score_is_the_mean_over_graded_muscles_only(small_atlas, make_grades):
    group = score_reads(make_grades(READ_ONE), small_atlas).group
    flexors = level(group, "group", "flexors")
    assert (flexors["score"], flexors["n_muscles"]) == (1.0, 1)  # b is NA: s(a) / 1
    assert level(group, "group", "extensors")["score"] == 2.0  # s(c)
    assert level(group, "group", "ventral")["score"] == 1.0  # (1.5 + 0.5) / 2
    assert list(group["group"]) == ["flexors", "extensors", "ventral"]  # atlas order


def test_region_limb_and_total_sum_with_na_lowering_the_maximum(small_atlas, make_grades):
    scores = score_reads(make_grades(READ_ONE), small_atlas)
    arm = level(scores.region, "region", "arm")
    assert (arm["score"], arm["n_muscles"], arm["max_score"]) == (3.0, 2, 4.0)  # 1 + 2; b NA
    assert arm["percent_of_max"] == 75.0  # 100 * 3 / (2 * 2), not 100 * 3 / 6
    thigh = level(scores.region, "region", "thigh")
    assert (thigh["score"], thigh["percent_of_max"]) == (2.0, 50.0)  # 1.5 + 0.5; 100 * 2 / 4
    upper = level(scores.limb, "limb", "upper")
    lower = level(scores.limb, "limb", "lower")
    assert (upper["score"], lower["score"]) == (3.0, 2.0)
    total = scores.total.iloc[0]
    assert (total["score"], total["n_muscles"], total["max_score"]) == (5.0, 4, 8.0)
    assert total["percent_of_max"] == 62.5  # 100 * 5 / (2 * 4 graded muscles)


def test_a_muscle_without_grade_rows_scores_na_and_a_region_without_muscles_too(
    small_atlas, make_grades
):
    grades = make_grades({7: [("a", "L", "STIR", 2), ("a", "L", "T1", 2)]})
    scores = score_reads(grades, small_atlas)
    assert muscle_scores(scores)["a"] == 2.0
    assert scores.muscle["score"].isna().sum() == 4  # b, c, d, e were never graded
    thigh = level(scores.region, "region", "thigh")
    assert math.isnan(thigh["score"]) and thigh["n_muscles"] == 0
    assert math.isnan(level(scores.group, "group", "ventral")["score"])
    assert scores.total["percent_of_max"].iloc[0] == 100.0  # 2 of a possible 2


def test_every_frame_carries_the_read_keys(small_atlas, make_grades):
    grades = make_grades(READ_ONE, {1: {"patient_id": 9, "timepoint": 2, "reader_id": 4}})
    scores = score_reads(grades, small_atlas)
    for frame in (scores.muscle, scores.group, scores.region, scores.limb, scores.total):
        assert set(frame["patient_id"]) == {9} and set(frame["reader_id"]) == {4}
        assert set(frame["timepoint"]) == {2} and set(frame["read_id"]) == {1}


def test_unified_grades_lists_each_graded_side(small_atlas, make_grades):
    cells = unified_grades(make_grades(READ_ONE), small_atlas)
    by_cell = cells.set_index(["muscle", "side"])["unified"].to_dict()
    assert len(by_cell) == 9  # 5 muscles x 2 sides, minus c's ungraded right side
    assert by_cell[("a", "L")] == 2.0 and by_cell[("a", "R")] == 0.0
    assert math.isnan(by_cell[("b", "L")])


def test_consensus_read_wins_otherwise_readers_are_averaged(small_atlas, make_grades):
    reads = {
        1: {"patient_id": 1, "reader_id": 1},
        2: {"patient_id": 1, "reader_id": 2},
        3: {"patient_id": 2, "reader_id": 1},
        4: {"patient_id": 2, "reader_id": 2},
        5: {"patient_id": 2, "reader_id": 3, "is_consensus": True},
    }
    cells = {
        1: [("a", "L", "STIR", 2), ("a", "R", "STIR", 0)],  # s(a) = 1
        2: [("a", "L", "STIR", 2), ("a", "R", "STIR", 2)],  # s(a) = 2
        3: [("a", "L", "STIR", 0), ("a", "R", "STIR", 0)],  # s(a) = 0
        4: [("a", "L", "STIR", 1), ("a", "R", "STIR", 0)],  # s(a) = 0.5
        5: [("a", "L", "STIR", 2), ("a", "R", "STIR", 1)],  # s(a) = 1.5, consensus
    }
    patients = _patients(make_grades(cells, reads), small_atlas)
    a = patients.muscle[patients.muscle["muscle"] == "a"].set_index("patient_id")
    assert a.loc[1, "score"] == 1.5  # no consensus: (1 + 2) / 2
    assert a.loc[1, "source"] == "reader mean" and a.loc[1, "n_reads"] == 2
    assert a.loc[2, "score"] == 1.5  # the consensus read alone, not (0 + 0.5 + 1.5) / 3
    assert a.loc[2, "source"] == "consensus" and a.loc[2, "n_reads"] == 1
    total = patients.total.set_index("patient_id")
    assert total.loc[1, "percent_of_max"] == 75.0  # (100 * 1/2 + 100 * 2/2) / 2
    arm = patients.region[patients.region["region"] == "arm"].set_index("patient_id")
    assert arm.loc[2, "score"] == 1.5


def test_reader_mean_skips_a_reader_who_could_not_assess(small_atlas, make_grades):
    reads = {1: {"reader_id": 1}, 2: {"reader_id": 2}}
    cells = {
        1: [("a", "L", "STIR", 2), ("a", "R", "STIR", 2)],  # s(a) = 2
        2: [("a", "L", "STIR", None), ("a", "R", "STIR", None)],  # s(a) = NA
    }
    patients = _patients(make_grades(cells, reads), small_atlas)
    a = patients.muscle[patients.muscle["muscle"] == "a"].iloc[0]
    assert (a["score"], a["n_reads"]) == (2.0, 1)  # mean over the one reader with a score


def test_one_read_per_patient_is_its_own_patient_score(small_atlas, make_grades):
    reads = {
        1: {"patient_id": 2, "reader_id": 1},
        2: {"patient_id": 1, "reader_id": 1, "is_consensus": True},
    }
    cells = {
        1: [("a", "L", "STIR", 2), ("a", "R", "STIR", 1)],  # s(a) = 1.5; b never graded
        2: [("a", "L", "STIR", None), ("a", "R", "STIR", 0)],  # s(a) = 0
    }
    patients = _patients(make_grades(cells, reads), small_atlas)
    muscles = patients.muscle
    assert list(muscles["patient_id"].unique()) == [1, 2]  # in patient order
    a = muscles[muscles["muscle"] == "a"].set_index("patient_id")
    assert a.loc[2, "score"] == 1.5 and a.loc[2, "n_reads"] == 1
    assert a.loc[2, "source"] == "reader mean"
    assert a.loc[1, "score"] == 0.0 and a.loc[1, "source"] == "consensus"
    b = muscles[muscles["muscle"] == "b"].set_index("patient_id")
    assert math.isnan(b.loc[2, "score"]) and b.loc[2, "n_reads"] == 0
    total = patients.total.set_index("patient_id")
    assert total.loc[2, "score"] == 1.5 and total.loc[2, "percent_of_max"] == 75.0


def test_the_default_atlas_at_full_involvement_scores_its_maximum(default_atlas, make_grades):
    cells = [
        (m, side, seq, 2)
        for m in default_atlas["muscle"]
        for side in "LR"
        for seq in ("STIR", "T1")
    ]
    scores = score_reads(make_grades({1: cells}), default_atlas)
    total = scores.total.iloc[0]
    assert (total["score"], total["n_muscles"], total["percent_of_max"]) == (120.0, 60, 100.0)
    limbs = dict(zip(scores.limb["limb"], scores.limb["score"], strict=True))
    # upper 3+4+2+1+6+5 = 21 muscles, axial trunk 10 + pelvis 5, lower thigh 13 + leg 11.
    assert limbs == {"upper": 42.0, "axial": 30.0, "lower": 48.0}
    assert len(scores.group) == 15 and set(scores.group["score"]) == {2.0}
    assert list(scores.region["region"]) == [
        "upper-extremity", "trunk", "pelvis", "thigh", "lower-leg"
    ]  # fmt: skip


def test_scores_serialise_to_json_with_na_as_null(small_atlas, make_grades):
    encoded = score_reads(make_grades(READ_ONE), small_atlas).to_dict()
    text = json.dumps(encoded, allow_nan=False)
    b = next(row for row in json.loads(text)["muscle"] if row["muscle"] == "b")
    assert b["score"] is None and encoded["combine"] == "max"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"muscle": "unknown-muscle"}, "muscles outside"),
        ({"side": "X"}, "sides outside"),
        ({"sequence": "DWI"}, "sequences outside"),
        ({"value": 6.0}, "whole numbers 0-5 or NA"),
        ({"value": 1.5}, "whole numbers 0-5 or NA"),
    ],
)
def test_unusable_grades_are_refused(small_atlas, make_grades, change, message):
    grades = make_grades(READ_ONE)
    for column, value in change.items():
        grades.loc[0, column] = value
    with pytest.raises(ValueError, match=message):
        score_reads(grades, small_atlas)


def test_a_cell_graded_twice_is_refused(small_atlas, make_grades):
    grades = make_grades({1: [("a", "L", "STIR", 1), ("a", "L", "STIR", 2)]})
    with pytest.raises(ValueError, match="more than once"):
        score_reads(grades, small_atlas)


def test_a_read_belonging_to_two_patients_is_refused(small_atlas, make_grades):
    grades = make_grades(READ_ONE)
    grades.loc[3, "patient_id"] = 2
    with pytest.raises(ValueError, match="disagree on patient_id"):
        score_reads(grades, small_atlas)


def test_unknown_options_and_empty_input_are_refused(small_atlas, make_grades):
    with pytest.raises(ValueError, match="combine must be"):
        score_reads(make_grades(READ_ONE), small_atlas, combine="min")
    with pytest.raises(ValueError, match="sides must be"):
        score_reads(make_grades(READ_ONE), small_atlas, sides="sum")
    with pytest.raises(ValueError, match="empty"):
        score_reads(make_grades(READ_ONE).iloc[:0], small_atlas)
    with pytest.raises(ValueError, match="lacks the column"):
        score_reads(make_grades(READ_ONE).drop(columns="side"), small_atlas)


def plain_loop_scores(grades: pd.DataFrame, atlas: pd.DataFrame) -> dict[str, dict]:
    """The definitions written out cell by cell, as an independent check of the vector code."""
    cell = {
        (r.read_id, r.muscle, r.side, r.sequence): r.value for r in grades.itertuples(index=False)
    }
    muscle, total = {}, {}
    for read_id in sorted(grades["read_id"].unique()):
        graded = []
        for m in atlas["muscle"]:
            sides = []
            for side in "LRM":
                known = [
                    cell[(read_id, m, side, q)]
                    for q in ("STIR", "T1")
                    if not math.isnan(cell.get((read_id, m, side, q), math.nan))
                ]
                if known:
                    sides.append(max(known))
            muscle[(read_id, m)] = sum(sides) / len(sides) if sides else math.nan
            if sides:
                graded.append(muscle[(read_id, m)])
        total[read_id] = (sum(graded), 100 * sum(graded) / (2 * len(graded)))
    return {"muscle": muscle, "total": total}


def test_vectorized_scores_agree_with_a_plain_loop_over_cells(default_atlas):
    rng = np.random.default_rng(20261125)
    cells = (
        default_atlas[["muscle"]]
        .merge(pd.DataFrame({"side": ["L", "R"]}), how="cross")
        .merge(pd.DataFrame({"sequence": ["STIR", "T1"]}), how="cross")
    )
    frames = []
    for read_id in range(1, 13):
        # Drop a random fifth of the cells and mark a fifth NA: uneven sides and sequences.
        kept = cells[rng.random(len(cells)) > 0.2].copy()
        kept["value"] = rng.choice([0.0, 1.0, 2.0, np.nan], size=len(kept), p=[0.4, 0.2, 0.2, 0.2])
        frames.append(kept.assign(read_id=read_id, patient_id=read_id, timepoint=0, reader_id=1))
    grades = pd.concat(frames, ignore_index=True).assign(is_consensus=False)
    expected = plain_loop_scores(grades, default_atlas)
    scores = score_reads(grades, default_atlas)
    got = scores.muscle.set_index(["read_id", "muscle"])["score"].to_dict()
    assert got == pytest.approx(expected["muscle"], nan_ok=True)
    for row in scores.total.itertuples():
        assert (row.score, row.percent_of_max) == pytest.approx(expected["total"][row.read_id])


def test_nullable_grade_values_are_read_as_na(small_atlas, make_grades):
    grades = make_grades(READ_ONE)
    grades["value"] = grades["value"].astype("Float64")
    assert score_reads(grades, small_atlas).total["score"].iloc[0] == 5.0
