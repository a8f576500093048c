"""Left-right asymmetry of unified grades, per muscle, functional group and patient.

Pure functions on pandas objects (no Django, nothing of the project).

Definitions, for a muscle graded on both sides with unified grades uL, uR on a 0-top scale
(top = scale_max: 2 on the paper's scale, the default):
  d  = uL - uR                          signed difference, -top ... top (positive: left worse)
  AI = |uL - uR| / top                  asymmetry index, 0 ... 1
  asymmetric  <=>  |uL - uR| >= 1       at least one full grade apart

Why AI = |L - R| / top rather than the ratio |L - R| / (L + R): on a three-step ordinal scale the
ratio gives 1 for both (1, 0) and (2, 0) and 1/3 for (2, 1) – it rewards a mild one-sided
finding as much as a severe one and penalises bilateral disease, and it is undefined at (0, 0).
The range-normalised difference is defined for every pair, linear in the grade difference,
0 for symmetric muscles whatever their grade, and comparable between muscles and groups.

A muscle with an NA on either side is not graded on both sides: it has no d, AI or asymmetry
flag and does not count in any denominator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._records import json_value

GRADE_COLUMNS = ["read_id", "patient_id", "muscle", "group", "side", "u"]
ASYMMETRY_THRESHOLD = 1.0


def muscle_asymmetry(grades: pd.DataFrame, scale_max: int = 2) -> pd.DataFrame:
    """One row per read and paired muscle.

    Input: long unified grades with columns read_id, patient_id, muscle, group, side ("L"/"R";
    other sides such as midline are ignored), u (float, NaN = NA).
    Output columns: read_id, patient_id, group, muscle, u_left, u_right, both_sides,
    diff (= uL - uR), ai (= |uL - uR| / scale_max: 0 to 1 on any scale), asymmetric
    (|uL - uR| >= 1; NA unless both_sides).
    """
    missing = [c for c in GRADE_COLUMNS if c not in grades.columns]
    if missing:
        raise ValueError(f"Grades lack columns {missing}.")
    sided = grades[grades["side"].isin(["L", "R"])]
    keys = ["read_id", "muscle", "side"]
    if sided.duplicated(keys).any():
        raise ValueError("More than one unified grade per read, muscle and side.")
    sided = sided.assign(u=pd.to_numeric(sided["u"], errors="raise").astype(float))
    wide = sided[["read_id", "patient_id", "group", "muscle"]].drop_duplicates(
        ["read_id", "muscle"]
    )
    for side, column in (("L", "u_left"), ("R", "u_right")):
        one_side = sided.loc[sided["side"] == side, ["read_id", "muscle", "u"]]
        wide = wide.merge(
            one_side.rename(columns={"u": column}), on=["read_id", "muscle"], how="left"
        )
    wide["both_sides"] = wide["u_left"].notna() & wide["u_right"].notna()
    wide["diff"] = wide["u_left"] - wide["u_right"]
    wide["ai"] = wide["diff"].abs() / scale_max
    asymmetric = wide["diff"].abs() >= ASYMMETRY_THRESHOLD
    wide["asymmetric"] = asymmetric.astype("boolean").where(wide["both_sides"], pd.NA)
    return wide[
        [
            "read_id",
            "patient_id",
            "group",
            "muscle",
            "u_left",
            "u_right",
            "both_sides",
            "diff",
            "ai",
            "asymmetric",
        ]
    ].reset_index(drop=True)


def group_asymmetry(grades: pd.DataFrame, scale_max: int = 2) -> pd.DataFrame:
    """One row per read and functional group, over the group's muscles graded on both sides.

    Output columns: read_id, patient_id, group, n_muscles_both_sides, u_left_mean, u_right_mean,
    diff (= mean of d = u_left_mean - u_right_mean; sides of opposite sign cancel),
    ai (= mean of the muscles' AI = mean |d| / 2; no cancelling), n_asymmetric.
    All means are NaN when no muscle of the group is graded on both sides.
    """
    per_muscle = muscle_asymmetry(grades, scale_max)
    paired = per_muscle[per_muscle["both_sides"]]
    # A column to sum, not a Python function per group (150,000 groups in a large cohort).
    paired = paired.assign(asymmetric=paired["asymmetric"].astype(bool).astype(int))
    keys = ["read_id", "patient_id", "group"]
    summary = paired.groupby(keys, sort=False).agg(
        n_muscles_both_sides=("muscle", "size"),
        u_left_mean=("u_left", "mean"),
        u_right_mean=("u_right", "mean"),
        diff=("diff", "mean"),
        ai=("ai", "mean"),
        n_asymmetric=("asymmetric", "sum"),
    )
    # Groups with no muscle graded on both sides still appear, with n = 0 and NaN means.
    all_groups = per_muscle[keys].drop_duplicates()
    out = all_groups.merge(summary.reset_index(), on=keys, how="left")
    for col in ("n_muscles_both_sides", "n_asymmetric"):
        out[col] = out[col].fillna(0).astype(int)
    return out.reset_index(drop=True)


def patient_asymmetry(grades: pd.DataFrame, scale_max: int = 2) -> pd.DataFrame:
    """Proportion of asymmetric muscles per read.

    proportion_asymmetric = n_asymmetric / n_muscles_both_sides (NaN when no muscle is graded
    on both sides). Output columns: read_id, patient_id, n_muscles_both_sides, n_asymmetric,
    proportion_asymmetric, mean_ai.
    """
    per_muscle = muscle_asymmetry(grades, scale_max)
    per_muscle["asym_count"] = per_muscle["asymmetric"].fillna(False).astype(int)
    per_muscle["paired"] = per_muscle["both_sides"].astype(int)
    out = (
        per_muscle.groupby(["read_id", "patient_id"], sort=False)
        .agg(
            n_muscles_both_sides=("paired", "sum"),
            n_asymmetric=("asym_count", "sum"),
            mean_ai=("ai", "mean"),
        )
        .reset_index()
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        proportion = out["n_asymmetric"] / out["n_muscles_both_sides"].replace(0, np.nan)
    out.insert(4, "proportion_asymmetric", proportion.astype(float))
    return out


@dataclass(frozen=True)
class AsymmetryBySubtype:
    """Kruskal-Wallis comparison of the per-patient proportion of asymmetric muscles.

    per_subtype columns: subtype, n_patients, mean, median, q1, q3 (of the proportion).
    status is "ok", or a reason when H cannot be computed (then H, df, p are NaN).
    """

    per_subtype: pd.DataFrame
    n_patients: int
    h: float
    df: int
    p: float
    status: str

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def asymmetry_by_subtype(
    grades: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    subtype_col: str = "subtype",
) -> AsymmetryBySubtype:
    """Compare the proportion of asymmetric muscles across subtypes (Kruskal-Wallis H, df, p).

    H is scipy's tie-corrected Kruskal-Wallis statistic, df = number of subtypes - 1.
    A patient with several reads (e.g. two readers) counts once, with the mean of the reads'
    proportions; patients without subtype or without any muscle graded on both sides are left
    out.
    """
    if "patient_id" not in patients.columns or subtype_col not in patients.columns:
        raise ValueError(f"Patients need columns patient_id and {subtype_col}.")
    per_read = patient_asymmetry(grades)
    per_patient = (
        per_read.groupby("patient_id", sort=False)["proportion_asymmetric"].mean().reset_index()
    )
    merged = per_patient.merge(
        patients[["patient_id", subtype_col]].drop_duplicates("patient_id"), on="patient_id"
    ).dropna(subset=["proportion_asymmetric", subtype_col])
    by_subtype = merged.groupby(subtype_col, sort=True)["proportion_asymmetric"]
    per_subtype = pd.DataFrame(
        {
            "n_patients": by_subtype.size(),
            "mean": by_subtype.mean(),
            "median": by_subtype.median(),
            "q1": by_subtype.quantile(0.25),
            "q3": by_subtype.quantile(0.75),
        }
    ).reset_index(names="subtype")
    samples = [values.to_numpy() for _, values in by_subtype]
    h, p, df, status = math.nan, math.nan, max(len(samples) - 1, 0), "ok"
    if len(samples) < 2:
        status = "fewer than two subtypes"
    elif merged["proportion_asymmetric"].nunique() < 2:
        status = "no variation"  # every patient has the same proportion: H is undefined
    else:
        h, p = (float(v) for v in stats.kruskal(*samples))
    return AsymmetryBySubtype(
        per_subtype=per_subtype,
        n_patients=int(len(merged)),
        h=h,
        df=df,
        p=p,
        status=status,
    )
