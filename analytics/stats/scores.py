"""Muscle, functional-group, region, limb and total scores from graded reads (DESIGN.md).

Definitions, for one read (NA = not assessable, always skipped, never counted as 0):

- unified grade   u(m, side) = combine(g_STIR(m, side), g_T1(m, side)); combine is "max"
  (default, the paper pools the sequences), "mean", or one sequence only ("STIR" gives the
  oedema sub-score, "T1" the fat sub-score). NA if both grades are NA.
- muscle score    s(m) = mean over the available sides of u(m, side) (or their max); 0-top.
- group score     G(g) = sum_{m in g, s(m) not NA} s(m) / n_g, n_g = graded muscles; 0-top.
- region, limb and total score = sum of s(m) over the graded muscles of the region, limb or
  atlas; max_score = top * n graded muscles; percent_of_max = 100 * score / max_score.
  A level with no graded muscle scores NA.

`top` is the highest grade of the scale the scores are on (`scale_max`: 2 on the paper's
0-2 scale, the default; 5 on the modified Mercuri scale). Grades are whole numbers 0-5; that a
grade lies on its sequence's scale is checked where grades come in (scoring/scales.py).

The atlas frame is the list of muscles being scored (the protocol's muscles): every read gets
one row per atlas muscle, NA where it has no grade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ._records import to_records

READ_KEYS = ("read_id", "patient_id", "timepoint", "reader_id", "is_consensus")
GRADE_COLUMNS = (*READ_KEYS, "muscle", "side", "sequence", "value")
ATLAS_COLUMNS = ("muscle", "group", "region", "limb", "group_order", "region_order", "muscle_order")
SIDES = ("L", "R", "M")
SEQUENCES = ("STIR", "T1")
LIMBS = ("upper", "axial", "lower")
COMBINE_OPTIONS = ("max", "mean", "STIR", "T1")
SIDE_OPTIONS = ("mean", "max")
GRADE_NUMBERS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
PAPER_SCALE_MAX = 2
LEVELS = ("muscle", "group", "region", "limb", "total")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise ValueError naming the columns `frame` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")


@dataclass(frozen=True, eq=False)
class _Levels:
    def to_dict(self) -> dict[str, Any]:
        """Every level as JSON-safe records; the options as strings."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            out[field.name] = to_records(value) if isinstance(value, pd.DataFrame) else value
        return out


@dataclass(frozen=True, eq=False)
class ReadScoreFrames(_Levels):
    """Scores of every read at every level; each frame starts with the READ_KEYS columns.

    muscle: muscle, group, region, limb, score, n_sides
    group:  group, region, limb, score, n_muscles
    region: region, limb, score, n_muscles, max_score, percent_of_max
    limb:   limb, score, n_muscles, max_score, percent_of_max
    total:  score, n_muscles, max_score, percent_of_max
    """

    muscle: pd.DataFrame
    group: pd.DataFrame
    region: pd.DataFrame
    limb: pd.DataFrame
    total: pd.DataFrame
    combine: str
    sides: str


@dataclass(frozen=True, eq=False)
class PatientScores(_Levels):
    """One score per patient, timepoint and level unit after combining readers.

    Each frame: patient_id, timepoint, the level's label columns, score, n_reads, source
    ("consensus" or "reader mean"); above the muscle level also n_muscles, max_score and
    percent_of_max. Built by `combine_reads`.
    """

    muscle: pd.DataFrame
    group: pd.DataFrame
    region: pd.DataFrame
    limb: pd.DataFrame
    total: pd.DataFrame


def prepare_atlas(atlas: pd.DataFrame) -> pd.DataFrame:
    """The atlas sorted in display order (region_order, group_order, muscle_order), checked."""
    require_columns(atlas, ATLAS_COLUMNS, "atlas")
    if atlas.empty:
        raise ValueError("atlas has no muscles")
    if atlas["muscle"].duplicated().any():
        dupes = sorted(atlas.loc[atlas["muscle"].duplicated(), "muscle"].unique())
        raise ValueError(f"atlas lists muscle(s) twice: {', '.join(dupes)}")
    bad_limbs = set(atlas["limb"]) - set(LIMBS)
    if bad_limbs:
        raise ValueError(f"atlas limb must be one of {LIMBS}, got {sorted(map(str, bad_limbs))}")
    # A group belongs to one region and a region to one limb, or sums would double count.
    if (atlas.groupby("group")["region"].nunique() > 1).any():
        raise ValueError("atlas puts one functional group in several regions")
    if (atlas.groupby("region")["limb"].nunique() > 1).any():
        raise ValueError("atlas puts one region in several limbs")
    order = ["region_order", "group_order", "muscle_order"]
    return atlas.sort_values(order, kind="stable").reset_index(drop=True)


def _codes(column: pd.Series, labels: Sequence[str], what: str) -> np.ndarray:
    """Positions of `column`'s values in `labels`; ValueError on anything else."""
    # Factorize first: the 2.4 M-row column then maps through a handful of unique values.
    codes, uniques = pd.factorize(column)
    lookup = pd.Index(labels).get_indexer(uniques)
    if (codes < 0).any() or (lookup < 0).any():
        unknown = sorted(str(value) for value in uniques[lookup < 0])
        shown = ", ".join(unknown[:10]) or "missing values"
        raise ValueError(f"grades have {what} outside {list(labels)[:10]}...: {shown}")
    return lookup[codes]


def _grade_cube(grades: pd.DataFrame, atlas: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Read metadata (one row per read, sorted by read_id) and the grade array.

    The array has shape (reads, atlas muscles, sides L/R/M, sequences STIR/T1), NaN where a
    cell is NA or was never graded.
    """
    require_columns(grades, GRADE_COLUMNS, "grades")
    if grades.empty:
        raise ValueError("grades is empty: there is nothing to score")
    read_codes, read_ids = pd.factorize(grades["read_id"], sort=True)
    if (read_codes < 0).any():
        raise ValueError("grades have rows without a read_id")
    muscle = _codes(grades["muscle"], list(atlas["muscle"]), "muscles")
    side = _codes(grades["side"], SIDES, "sides")
    sequence = _codes(grades["sequence"], SEQUENCES, "sequences")
    numeric = pd.to_numeric(grades["value"], errors="coerce")
    values = numeric.to_numpy(dtype=float, na_value=np.nan)  # also for nullable Float64
    known = ~np.isnan(values)
    if not np.isin(values[known], GRADE_NUMBERS).all():
        raise ValueError("grade values must be whole numbers 0-5 or NA (NaN)")
    if known.sum() != grades["value"].notna().sum():
        raise ValueError("grade values must be numbers 0-5 or NA (NaN)")

    # One metadata row per read: its first grade row, then every row must agree with it.
    first = np.flatnonzero(~pd.Series(read_codes).duplicated().to_numpy())
    meta = {}
    for key in READ_KEYS[1:]:
        column = grades[key].to_numpy()
        per_read = np.empty(len(read_ids), dtype=column.dtype)
        per_read[read_codes[first]] = column[first]
        if not (per_read[read_codes] == column).all():
            raise ValueError(f"a read's grade rows disagree on {key} (or {key} is missing)")
        meta[key] = per_read
    if not np.isin(meta["is_consensus"], (True, False)).all():
        raise ValueError("is_consensus must be True or False")
    reads = pd.DataFrame({"read_id": np.asarray(read_ids), **meta})
    reads["is_consensus"] = reads["is_consensus"].astype(bool)

    shape = (len(read_ids), len(atlas), len(SIDES), len(SEQUENCES))
    flat = ((read_codes * shape[1] + muscle) * shape[2] + side) * shape[3] + sequence
    if np.bincount(flat, minlength=int(np.prod(shape))).max() > 1:
        raise ValueError("grades hold a (read, muscle, side, sequence) cell more than once")
    cube = np.full(shape, np.nan)
    cube.reshape(-1)[flat] = values
    return reads, cube


def _mean_skipna(array: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over `axis` of the non-NaN entries (NaN if none) and how many there were."""
    count = (~np.isnan(array)).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(array, axis=axis) / count
    return np.where(count > 0, mean, np.nan), count


def _unified(cube: np.ndarray, combine: str) -> np.ndarray:
    """u(m, side) of shape (reads, muscles, sides) by the chosen sequence combination."""
    if combine == "max":
        return np.fmax(cube[..., 0], cube[..., 1])  # fmax ignores a NaN partner
    if combine == "mean":
        return _mean_skipna(cube, axis=3)[0]
    if combine in SEQUENCES:
        return cube[..., SEQUENCES.index(combine)]
    raise ValueError(f"combine must be one of {COMBINE_OPTIONS}, got {combine!r}")


def _long(reads: pd.DataFrame, labels: pd.DataFrame, **values: np.ndarray) -> pd.DataFrame:
    """A tidy frame of (read x label) matrices: read keys, label columns, one column a matrix."""
    n_labels = len(labels)
    columns: dict[str, Any] = {key: np.repeat(reads[key].to_numpy(), n_labels) for key in reads}
    at = np.tile(np.arange(n_labels), len(reads))
    # A positional take keeps the labels' own array type (no million Python strings).
    columns.update({key: labels[key].array.take(at) for key in labels})
    columns.update({name: matrix.reshape(-1) for name, matrix in values.items()})
    return pd.DataFrame(columns)


def _membership(keys: pd.Series, units: pd.Index) -> np.ndarray:
    """One-hot matrix (muscles x units) saying which unit each atlas muscle belongs to."""
    matrix = np.zeros((len(keys), len(units)))
    matrix[np.arange(len(keys)), units.get_indexer(keys)] = 1.0
    return matrix


def _atlas_units(atlas: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, np.ndarray | None]]:
    group = atlas.drop_duplicates("group")[["group", "region", "limb"]]
    region = atlas.drop_duplicates("region")[["region", "limb"]]
    limb = pd.DataFrame({"limb": [limb for limb in LIMBS if limb in set(atlas["limb"])]})
    return {
        "muscle": (atlas[["muscle", "group", "region", "limb"]], None),
        "group": (group, _membership(atlas["group"], pd.Index(group["group"]))),
        "region": (region, _membership(atlas["region"], pd.Index(region["region"]))),
        "limb": (limb, _membership(atlas["limb"], pd.Index(limb["limb"]))),
        "total": (pd.DataFrame(index=[0]), np.ones((len(atlas), 1))),
    }


@dataclass(frozen=True, eq=False)
class AtlasLayout:
    """A checked atlas in display order with its level units: built once per atlas and
    reused for every batch of reads scored against it."""

    atlas: pd.DataFrame
    # Per level: its units' labels and, above the muscle, the (muscles x units) membership.
    units: dict[str, tuple[pd.DataFrame, np.ndarray | None]]


def atlas_layout(atlas: pd.DataFrame) -> AtlasLayout:
    prepared = prepare_atlas(atlas)
    return AtlasLayout(atlas=prepared, units=_atlas_units(prepared))


@dataclass(frozen=True, eq=False)
class GradeCube:
    """The grades of many reads as one array, shared by every combination rule: shape
    (reads, atlas muscles, sides L/R/M, sequences STIR/T1), NaN where NA or never graded."""

    reads: pd.DataFrame  # READ_KEYS, one row per read, sorted by read_id
    layout: AtlasLayout
    values: np.ndarray


def grade_cube(grades: pd.DataFrame, atlas: pd.DataFrame | AtlasLayout) -> GradeCube:
    """Check `grades` and `atlas` (see `score_reads`) and lay the grades out as a cube."""
    layout = atlas if isinstance(atlas, AtlasLayout) else atlas_layout(atlas)
    reads, values = _grade_cube(grades, layout.atlas)
    return GradeCube(reads=reads, layout=layout, values=values)


@dataclass(frozen=True, eq=False)
class LevelMatrix:
    """One level of every read: `score[i, j]` of read i and unit j (NaN if nothing graded),
    `n[i, j]` the graded sides (muscle level) or graded muscles (other levels)."""

    labels: pd.DataFrame  # one row per unit: the level's label columns
    score: np.ndarray
    n: np.ndarray
    scale_max: int = PAPER_SCALE_MAX

    @property
    def max_score(self) -> np.ndarray:
        return self.scale_max * self.n

    @property
    def percent_of_max(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, 100.0 * self.score / (self.scale_max * self.n), np.nan)


@dataclass(frozen=True, eq=False)
class ScoreMatrices:
    """Every level of every read as (reads x units) matrices: what `score_reads` lays out as
    tidy frames, for callers that store per-read values and need no frames."""

    reads: pd.DataFrame
    muscle: LevelMatrix
    group: LevelMatrix
    region: LevelMatrix
    limb: LevelMatrix
    total: LevelMatrix
    combine: str
    sides: str

    def frames(self) -> ReadScoreFrames:
        def summed(level: LevelMatrix) -> pd.DataFrame:
            return _long(
                self.reads,
                level.labels,
                score=level.score,
                n_muscles=level.n,
                max_score=level.max_score,
                percent_of_max=level.percent_of_max,
            )

        return ReadScoreFrames(
            muscle=_long(
                self.reads, self.muscle.labels, score=self.muscle.score, n_sides=self.muscle.n
            ),
            group=_long(
                self.reads, self.group.labels, score=self.group.score, n_muscles=self.group.n
            ),
            region=summed(self.region),
            limb=summed(self.limb),
            total=summed(self.total),
            combine=self.combine,
            sides=self.sides,
        )


def _summed(
    labels: pd.DataFrame, membership: np.ndarray, scores: np.ndarray, scale_max: int
) -> LevelMatrix:
    """Sum of muscle scores per level unit over the graded muscles (NaN if none)."""
    graded = (~np.isnan(scores)).astype(float) @ membership
    total = np.nan_to_num(scores) @ membership
    return LevelMatrix(labels, np.where(graded > 0, total, np.nan), graded.astype(int), scale_max)


def score_cube(
    cube: GradeCube,
    *,
    combine: str = "max",
    sides: str = "mean",
    scale_max: int = PAPER_SCALE_MAX,
) -> ScoreMatrices:
    """Every score level of every read of `cube` (formulas in the module doc); `scale_max` is
    the top grade of the scale the combined grades are on."""
    if combine not in COMBINE_OPTIONS:
        raise ValueError(f"combine must be one of {COMBINE_OPTIONS}, got {combine!r}")
    if sides not in SIDE_OPTIONS:
        raise ValueError(f"sides must be one of {SIDE_OPTIONS}, got {sides!r}")
    unified = _unified(cube.values, combine)
    n_sides = (~np.isnan(unified)).sum(axis=2)
    if sides == "mean":
        muscle_scores = _mean_skipna(unified, axis=2)[0]
    else:
        muscle_scores = np.fmax.reduce(unified, axis=2)
    units = cube.layout.units
    group_labels, group_matrix = units["group"]
    graded = (~np.isnan(muscle_scores)).astype(float) @ group_matrix
    with np.errstate(invalid="ignore", divide="ignore"):
        group_mean = (np.nan_to_num(muscle_scores) @ group_matrix) / graded
    return ScoreMatrices(
        reads=cube.reads,
        muscle=LevelMatrix(units["muscle"][0], muscle_scores, n_sides, scale_max),
        group=LevelMatrix(
            group_labels, np.where(graded > 0, group_mean, np.nan), graded.astype(int), scale_max
        ),
        region=_summed(*units["region"], muscle_scores, scale_max),
        limb=_summed(*units["limb"], muscle_scores, scale_max),
        total=_summed(*units["total"], muscle_scores, scale_max),
        combine=combine,
        sides=sides,
    )


def score_reads(
    grades: pd.DataFrame,
    atlas: pd.DataFrame,
    *,
    combine: str = "max",
    sides: str = "mean",
    scale_max: int = PAPER_SCALE_MAX,
) -> ReadScoreFrames:
    """Every score level of every read in one vectorized pass (formulas in the module doc).

    `grades` is the long grade frame (GRADE_COLUMNS), `atlas` the muscles being scored
    (ATLAS_COLUMNS). combine: "max" | "mean" | "STIR" | "T1"; sides: "mean" | "max".
    Raises ValueError on unknown muscles, sides, sequences, values or duplicated cells.
    """
    cube = grade_cube(grades, atlas)
    return score_cube(cube, combine=combine, sides=sides, scale_max=scale_max).frames()


def unified_grades(
    grades: pd.DataFrame, atlas: pd.DataFrame, *, combine: str = "max"
) -> pd.DataFrame:
    """u(m, side) = combine(g_STIR, g_T1) for every graded (read, muscle, side) cell.

    Columns: READ_KEYS, muscle, group, region, limb, side, unified (NaN when both sequences
    are NA). Only sides that have at least one grade row appear.
    """
    atlas = prepare_atlas(atlas)
    reads, cube = _grade_cube(grades, atlas)
    unified = _unified(cube, combine)
    present = np.zeros(unified.shape, dtype=bool)
    read_codes = pd.Index(reads["read_id"]).get_indexer(grades["read_id"])
    muscle = _codes(grades["muscle"], list(atlas["muscle"]), "muscles")
    present[read_codes, muscle, _codes(grades["side"], SIDES, "sides")] = True
    labels = atlas[["muscle", "group", "region", "limb"]].merge(
        pd.DataFrame({"side": SIDES}), how="cross"
    )
    frame = _long(reads, labels, unified=unified, present=present)
    return frame[frame.pop("present")].reset_index(drop=True)


# Read muscle scores are multiples of 1/12: grades are integers, and a read's muscle score is a
# mean over at most two sequences and at most three sides. Combining readers works on these
# twelfths as integers, so equal scores stay equal wherever they are summed or averaged.
TWELFTHS = 12
SOURCES = pd.array(["reader mean", "consensus"], dtype="str")


def _twelfths(scores: np.ndarray) -> np.ndarray:
    """Read muscle scores (NaN = NA) as integer twelfths; ValueError if one is not k/12."""
    scaled = scores * TWELFTHS
    known = ~np.isnan(scaled)
    whole = np.rint(np.where(known, scaled, 0.0))
    if np.abs(np.where(known, scaled, 0.0) - whole).max(initial=0.0) > 1e-6:
        raise ValueError("read muscle scores must be multiples of 1/12 (means of whole grades)")
    return whole.astype(np.int64)


def analysed_reads(reads: pd.DataFrame) -> pd.Series:
    """Which reads a visit's scores come from: its consensus read(s) alone when it has one,
    otherwise every read. `reads` needs patient_id, timepoint and is_consensus."""
    consensus = reads["is_consensus"].astype(bool)
    has_consensus = consensus.groupby([reads["patient_id"], reads["timepoint"]]).transform("any")
    return consensus | ~has_consensus


def combine_reads(
    muscle: pd.DataFrame,
    atlas: pd.DataFrame | AtlasLayout,
    *,
    scale_max: int = PAPER_SCALE_MAX,
) -> PatientScores:
    """Patient scores per visit (patient_id, timepoint) from the reads' muscle scores.

    `muscle` has READ_KEYS, muscle and score (a read's s_r(m), NaN = NA), one row per read and
    atlas muscle it scored. Per visit, the consensus read alone if there is one, otherwise
    every read (DESIGN.md "Score definitions"):
      s(m) = mean of s_r(m) over the reads where it is not NA (n_reads of them);
      G(group) = mean of s over the group's muscles not NA;
      region, limb, total = sum of s over their muscles not NA; max_score = scale_max x those
      muscles; percent_of_max = 100 x score / max_score.
    Readers are combined here and nowhere else. The arithmetic is exact: scores are integer
    twelfths over a common denominator, and each value is one division of two integers, so
    equal scores are equal floats and tie in every rank test.
    """
    require_columns(muscle, [*READ_KEYS, "muscle", "score"], "muscle scores")
    layout = atlas if isinstance(atlas, AtlasLayout) else atlas_layout(atlas)
    atlas_muscles = list(layout.atlas["muscle"])
    kept = muscle[analysed_reads(muscle).to_numpy()]
    # Visits by one integer key (patient, timepoint): factorizing a MultiIndex is slow.
    patient_ids = kept["patient_id"].to_numpy(dtype=np.int64)
    timepoints = kept["timepoint"].to_numpy(dtype=np.int64)
    span = int(timepoints.max(initial=0)) + 1
    visit_codes, visit_keys = pd.factorize(patient_ids * span + timepoints, sort=True)
    muscle_codes = _codes(kept["muscle"], atlas_muscles, "muscles")
    scores = pd.to_numeric(kept["score"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    shape = (len(visit_keys), len(atlas_muscles))
    cell = visit_codes * shape[1] + muscle_codes
    # Float sums of small integers are exact (far below 2**53).
    twelfths = np.bincount(cell, weights=_twelfths(scores), minlength=shape[0] * shape[1])
    twelfths = twelfths.astype(np.int64)
    n_reads = np.bincount(cell[~np.isnan(scores)], minlength=shape[0] * shape[1])
    twelfths, n_reads = twelfths.reshape(shape), n_reads.reshape(shape)
    # s(m) = twelfths / (12 n): over the common denominator 12 lcm(n), numerators are integers.
    common = TWELFTHS * math.lcm(*range(1, int(n_reads.max(initial=1)) + 1))
    numerator = twelfths * (common // (TWELFTHS * np.maximum(n_reads, 1)))
    graded = n_reads > 0

    visit_keys = np.asarray(visit_keys)
    keys = pd.DataFrame({"patient_id": visit_keys // span, "timepoint": visit_keys % span})

    def level_frame(labels: pd.DataFrame, **columns: np.ndarray) -> pd.DataFrame:
        return _long(keys, labels, **columns)

    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "muscle": level_frame(
                layout.units["muscle"][0],
                score=np.where(graded, numerator / common, np.nan),
                n_reads=n_reads,
            )
        }
        for name in ("group", "region", "limb", "total"):
            labels, membership = layout.units[name]
            members = membership.astype(np.int64)
            summed, n_muscles = numerator @ members, graded.astype(np.int64) @ members
            score = summed / (common * n_muscles) if name == "group" else summed / common
            out[name] = level_frame(
                labels,
                score=np.where(n_muscles > 0, score, np.nan),
                n_muscles=n_muscles,
                max_score=scale_max * n_muscles,
                percent_of_max=np.where(
                    n_muscles > 0, (100 * summed) / (scale_max * common * n_muscles), np.nan
                ),
            )
    # n_reads above the muscle level: the reads combined for the visit; source: consensus or not.
    first_row_of_read = ~kept["read_id"].duplicated().to_numpy()
    reads_per_visit = np.bincount(visit_codes[first_row_of_read], minlength=shape[0])
    consensus = kept["is_consensus"].astype(bool).to_numpy()
    has_consensus = np.bincount(visit_codes, weights=consensus, minlength=shape[0]) > 0
    for name, frame in out.items():
        units = len(frame) // max(shape[0], 1)  # frames are visit-major, `units` rows each
        if name != "muscle":
            frame["n_reads"] = np.repeat(reads_per_visit, units)
        frame["source"] = SOURCES.take(np.repeat(has_consensus, units).astype(np.intp))
    return PatientScores(**out)


def first_timepoint(frame: pd.DataFrame) -> pd.DataFrame:
    """Only each patient's earliest timepoint (the baseline for cross-sectional analyses)."""
    require_columns(frame, ["patient_id", "timepoint"], "frame")
    baseline = frame.groupby("patient_id")["timepoint"].transform("min")
    return frame[frame["timepoint"] == baseline].reset_index(drop=True)


def attach_patients(
    frame: pd.DataFrame, patients: pd.DataFrame, columns: Sequence[str] = ("subtype",)
) -> pd.DataFrame:
    """`frame` with the patients' `columns` joined on (patient_id, timepoint), many to one."""
    keys = ["patient_id", "timepoint"]
    require_columns(frame, keys, "frame")
    require_columns(patients, [*keys, *columns], "patients")
    if patients.duplicated(keys).any():
        raise ValueError("patients has more than one row for a (patient_id, timepoint)")
    return frame.merge(patients[[*keys, *columns]], on=keys, how="left", validate="many_to_one")
