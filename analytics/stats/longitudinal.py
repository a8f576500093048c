"""Longitudinal change of functional-group and total scores between timepoints.

Pure functions on pandas objects (no Django, nothing of the project).
Input: one row per patient and timepoint with columns patient_id, subtype, timepoint,
days_from_baseline and one column per score (each functional group and "total").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25
ID_COLUMNS = ["patient_id", "subtype", "timepoint", "days_from_baseline"]
CHANGE_COLUMNS = [
    "patient_id",
    "subtype",
    "score",
    "timepoint_from",
    "timepoint_to",
    "days_from",
    "days_to",
    "interval_years",
    "value_from",
    "value_to",
    "change",
    "change_per_year",
]
RATE_COLUMNS = [
    "patient_id",
    "subtype",
    "score",
    "n_timepoints",
    "follow_up_years",
    "change",
    "change_per_year",
]
SUMMARY_COLUMNS = [
    "subtype",
    "score",
    "n_patients",
    "median_change_per_year",
    "q1_change_per_year",
    "q3_change_per_year",
    "mean_change_per_year",
    "status",
]


def _score_columns(scores: pd.DataFrame, score_cols: Sequence[str] | None) -> list[str]:
    """Validate the input frame and return the score columns to use."""
    missing = [c for c in ID_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"Scores lack columns {missing}.")
    if score_cols is None:
        score_cols = [
            c
            for c in scores.columns
            if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(scores[c])
        ]
    score_cols = list(score_cols)
    absent = [c for c in score_cols if c not in scores.columns]
    if absent or not score_cols:
        raise ValueError(f"Score columns not found: {absent or 'none given'}.")
    if scores["days_from_baseline"].isna().any():
        raise ValueError("days_from_baseline is missing for some timepoints.")
    # Two rows of one patient on the same day would give a zero-length interval.
    if scores.duplicated(["patient_id", "days_from_baseline"]).any():
        raise ValueError("A patient has two timepoints on the same day.")
    return score_cols


def score_changes(
    scores: pd.DataFrame,
    *,
    score_cols: Sequence[str] | None = None,
    reference: Literal["previous", "baseline"] = "previous",
) -> pd.DataFrame:
    """Change of each score per interval, one tidy row per patient, interval and score.

    Timepoints of a patient are ordered by days_from_baseline. With reference="previous" the
    intervals are t_k -> t_k+1; with "baseline" each later timepoint is compared with the
    first. change = value_to - value_from; interval_years = (days_to - days_from) / 365.25;
    change_per_year = change / interval_years. change is NaN when either value is missing.
    score_cols defaults to every numeric column other than the id columns.
    Patients with a single timepoint contribute no row.
    Output columns: patient_id, subtype, score, timepoint_from, timepoint_to, days_from,
    days_to, interval_years, value_from, value_to, change, change_per_year.
    """
    if reference not in ("previous", "baseline"):
        raise ValueError(f"reference must be 'previous' or 'baseline', not {reference!r}.")
    score_cols = _score_columns(scores, score_cols)

    ordered = scores.sort_values(["patient_id", "days_from_baseline"], kind="stable")
    ends = ordered.groupby("patient_id", sort=False)
    if reference == "previous":
        starts = ends.shift(1)
    else:
        # Not transform("first"): that skips NaN and would take a later visit as baseline.
        first_rows = ordered[ends.cumcount() == 0].set_index("patient_id")
        starts = first_rows.reindex(ordered["patient_id"]).set_axis(ordered.index)
        starts.loc[ends.cumcount() == 0, :] = np.nan  # the baseline itself is no interval
    frames = []
    has_start = starts["days_from_baseline"].notna()
    for score in score_cols:
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": ordered["patient_id"],
                    "subtype": ordered["subtype"],
                    "score": score,
                    "timepoint_from": starts["timepoint"],
                    "timepoint_to": ordered["timepoint"],
                    "days_from": starts["days_from_baseline"].astype(float),
                    "days_to": ordered["days_from_baseline"].astype(float),
                    "value_from": starts[score].astype(float),
                    "value_to": ordered[score].astype(float),
                }
            )[has_start]
        )
    out = pd.concat(frames, ignore_index=True)
    if out.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    # shift() made the start timepoint float (NaN for first visits); restore the label's type.
    out["timepoint_from"] = out["timepoint_from"].astype(scores["timepoint"].dtype)
    out["interval_years"] = (out["days_to"] - out["days_from"]) / DAYS_PER_YEAR
    out["change"] = out["value_to"] - out["value_from"]
    out["change_per_year"] = out["change"] / out["interval_years"]
    # Rows per patient, then interval, then score in the order given.
    order = {s: i for i, s in enumerate(score_cols)}
    out = out.sort_values(
        ["patient_id", "days_to", "score"],
        key=lambda col: col.map(order) if col.name == "score" else col,
        kind="stable",
    )
    return out[CHANGE_COLUMNS].reset_index(drop=True)


def patient_rates(scores: pd.DataFrame, *, score_cols: Sequence[str] | None = None) -> pd.DataFrame:
    """One annual rate of change per patient and score, over the whole follow-up.

    Per patient and score, between the first and the last timepoint at which the score is
    known: change_per_year = (value_last - value_first) / ((days_last - days_first) / 365.25),
    the follow-up-weighted mean of the interval rates, so a missing middle visit does not lose
    the patient. Patients with fewer than two known values of a score have no row for it.
    Output columns: patient_id, subtype, score, n_timepoints, follow_up_years, change,
    change_per_year.
    """
    score_cols = _score_columns(scores, score_cols)
    long = scores.melt(
        id_vars=["patient_id", "subtype", "days_from_baseline"],
        value_vars=score_cols,
        var_name="score",
        value_name="value",
    ).dropna(subset=["value"])
    long = long.sort_values(["patient_id", "days_from_baseline"], kind="stable")
    by = long.groupby(["patient_id", "score"], sort=False)
    out = by.agg(
        subtype=("subtype", "first"),
        n_timepoints=("value", "size"),
        days_first=("days_from_baseline", "first"),
        days_last=("days_from_baseline", "last"),
        value_first=("value", "first"),
        value_last=("value", "last"),
    ).reset_index()
    out = out[out["n_timepoints"] >= 2].copy()
    out["follow_up_years"] = (out["days_last"] - out["days_first"]) / DAYS_PER_YEAR
    out["change"] = out["value_last"].astype(float) - out["value_first"].astype(float)
    out["change_per_year"] = out["change"] / out["follow_up_years"]
    order = {s: i for i, s in enumerate(score_cols)}
    out = out.sort_values(
        ["patient_id", "score"],
        key=lambda col: col.map(order) if col.name == "score" else col,
        kind="stable",
    )
    return out[RATE_COLUMNS].reset_index(drop=True)


def change_summary(
    scores: pd.DataFrame,
    *,
    score_cols: Sequence[str] | None = None,
    overall_label: str = "all",
    min_n: int = 1,
) -> pd.DataFrame:
    """Per subtype and score: median (IQR) and mean annual change over patients.

    With fewer than `min_n` patients the statistics are NaN and status says "too few (n = k,
    minimum m)"; otherwise status is "ok".

    Each patient counts once, with its rate from patient_rates, so patients with many visits do
    not dominate. A last row block with subtype = overall_label summarises all patients.
    Output columns: subtype, score, n_patients, median_change_per_year, q1_change_per_year,
    q3_change_per_year, mean_change_per_year (NaN where n_patients = 0).
    """
    score_cols = _score_columns(scores, score_cols)
    rates = patient_rates(scores, score_cols=score_cols)
    subtypes = sorted(scores["subtype"].dropna().unique().tolist(), key=str)
    rows = []
    for subtype in [*subtypes, overall_label]:
        chosen = rates if subtype == overall_label else rates[rates["subtype"] == subtype]
        for score in score_cols:
            values = chosen.loc[chosen["score"] == score, "change_per_year"].dropna()
            if values.size < min_n:
                rows.append(
                    {
                        "subtype": subtype,
                        "score": score,
                        "n_patients": int(values.size),
                        "status": f"too few (n = {values.size}, minimum {min_n})",
                    }
                )
                continue
            rows.append(
                {
                    "subtype": subtype,
                    "score": score,
                    "n_patients": int(values.size),
                    "median_change_per_year": float(values.median()),
                    "q1_change_per_year": float(values.quantile(0.25)),
                    "q3_change_per_year": float(values.quantile(0.75)),
                    "mean_change_per_year": float(values.mean()),
                    "status": "ok",
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
