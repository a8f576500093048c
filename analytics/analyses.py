"""The cohort analyses, built from stored read scores and clinical data (never from grades).

`compute_analyses` returns one JSON-ready dict per stored analysis; the parameters decide the
multiple-testing correction, the CK scale and the dashboard filters (sites, subtypes, readers,
protocol, timepoint).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cohorts.models import Cohort
from scoring.models import Read

from . import stats
from .frames import patients_frame
from .models import ReadScores

READ_COLUMNS = ["read_id", "patient_id", "timepoint", "reader_id", "is_consensus"]
LEVELS = ("group", "region", "limb")
CLINICAL_COLUMNS = ["pseudonym", "site", "subtype", "sex", "age", "mmt8", "ck"]


def stored_score_frames(
    cohort: Cohort, *, include_rereads: bool = False, readers: list[int] | None = None,
    protocol: str | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Stored read scores of the cohort's submitted reads as long frames per scope and level.

    {scope: {"group" | "region" | "limb": frame(read keys, <level>, score), "total": frame}}.
    Re-reads exist for intra-reader agreement and are left out unless asked for.
    """
    reads = Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
    if not include_rereads:
        reads = reads.exclude(kind=Read.Kind.REREAD)
    if readers:
        reads = reads.filter(reader_id__in=readers)
    if protocol:
        reads = reads.filter(protocol__slug=protocol)
    rows = ReadScores.objects.filter(read__in=reads).values_list(
        "read_id", "read__study__patient_id", "read__study__timepoint", "read__reader_id",
        "read__kind", "scores",
    )
    collected: dict[str, dict[str, list[tuple]]] = {}
    for read_id, patient_id, timepoint, reader_id, kind, scores in rows.iterator(chunk_size=2000):
        keys = (read_id, patient_id, timepoint, reader_id, kind == Read.Kind.CONSENSUS)
        for scope, levels in scores.items():
            bucket = collected.setdefault(scope, {level: [] for level in (*LEVELS, "total")})
            for level in LEVELS:
                bucket[level].extend((*keys, label, value)
                                     for label, value in levels[level].items())
            bucket["total"].append((*keys, levels["total"], levels["total_pct"]))
    frames: dict[str, dict[str, pd.DataFrame]] = {}
    for scope, bucket in collected.items():
        frames[scope] = {
            level: pd.DataFrame(bucket[level], columns=[*READ_COLUMNS, level, "score"]).astype(
                {"score": float})
            for level in LEVELS
        }
        frames[scope]["total"] = pd.DataFrame(
            bucket["total"], columns=[*READ_COLUMNS, "score", "percent_of_max"]
        ).astype({"score": float, "percent_of_max": float})
    return frames


def _patient_level(frames: dict[str, pd.DataFrame], patients: pd.DataFrame,
                   timepoint: str | int) -> dict[str, pd.DataFrame]:
    """Combine readers per patient and timepoint, choose the timepoint, attach clinical
    columns, and keep only the patients that pass the filters."""
    labels = {"group": ["group"], "region": ["region"], "limb": ["limb"], "total": []}
    out = {}
    for level, frame in frames.items():
        combined = stats.combine_reader_frame(frame, labels[level])
        if timepoint == "baseline":
            combined = stats.first_timepoint(combined)
        else:
            combined = combined[combined["timepoint"] == int(timepoint)]
        combined = combined[combined["patient_id"].isin(patients["patient_id"])]
        # Clinical values of the same timepoint; a missing assessment leaves them empty.
        out[level] = combined.merge(
            patients.drop_duplicates(["patient_id", "timepoint"])[
                ["patient_id", "timepoint", *CLINICAL_COLUMNS]],
            on=["patient_id", "timepoint"], how="left",
        ).merge(
            patients.drop_duplicates("patient_id")[["patient_id", "subtype", "site",
                                                    "pseudonym"]],
            on="patient_id", how="left", suffixes=("", "_patient"),
        ).pipe(_fill_from_patient)
    return out


def _fill_from_patient(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("subtype", "site", "pseudonym"):
        frame[column] = frame[column].fillna(frame.pop(f"{column}_patient"))
    return frame


def _bands(totals: pd.DataFrame, outcome: str, log10: bool) -> list[dict[str, Any]]:
    """The fitted line with its 95 % band, overall and per subtype, for the scatter plots."""
    out = []
    scopes = [("all", totals)] + [(s, g) for s, g in totals.groupby("subtype", sort=True)]
    for scope, frame in scopes:
        band = stats.regression_band(frame["score"], frame[outcome], log10=log10)
        if band is not None:
            out.append({"scope": scope, "outcome": f"log10({outcome})" if log10 else outcome,
                        **band})
    return out


def filtered_patients(cohort: Cohort, parameters: dict[str, Any]) -> pd.DataFrame:
    patients = patients_frame(cohort)
    if parameters.get("sites"):
        patients = patients[patients["site"].isin(parameters["sites"])]
    if parameters.get("subtypes"):
        patients = patients[patients["subtype"].isin(parameters["subtypes"])]
    return patients


def compute_analyses(cohort: Cohort, parameters: dict[str, Any]) -> dict[str, Any]:
    """Every stored analysis of the cohort, as JSON-ready dicts keyed by analysis name."""
    patients = filtered_patients(cohort, parameters)
    frames = stored_score_frames(cohort, readers=parameters.get("readers") or None,
                                 protocol=parameters.get("protocol"))
    timepoint = parameters["timepoint"]
    correction = parameters["correction"]
    min_n = parameters["min_subgroup_n"]
    described = patients if timepoint == "baseline" else patients[
        patients["timepoint"] == int(timepoint)]
    results: dict[str, Any] = {
        "descriptives": {"table": stats.to_records(stats.describe_cohort(described))},
    }
    profile, comparison, correlation, patient_scores = {}, {}, {}, {}
    for scope, scope_frames in frames.items():
        level = _patient_level(scope_frames, patients, timepoint)
        groups, limbs, totals = level["group"], level["limb"], level["total"]
        profile[scope] = {
            "group": stats.to_records(stats.group_profile(groups)),
            "limb": stats.to_records(stats.limb_profile(limbs)),
            "region": stats.to_records(
                stats.group_profile(level["region"].rename(columns={"region": "group"}))
                .rename(columns={"group": "region"})),
        }
        comparison[scope] = {
            "kruskal": stats.to_records(stats.kruskal_by_group(groups, correction=correction)),
            "dunn": stats.to_records(stats.dunn_by_group(groups, correction=correction)),
        }
        with_total = totals.rename(columns={"score": "total"})
        fits = pd.concat([
            stats.clinical_regression(with_total, outcome="mmt8", min_n=min_n),
            stats.clinical_regression(with_total, outcome="ck", log10=parameters["ck_log10"],
                                      min_n=min_n),
        ], ignore_index=True)
        correlation[scope] = {
            "fits": stats.to_records(fits),
            "bands": _bands(totals, "mmt8", False) + _bands(totals, "ck", parameters["ck_log10"]),
        }
        wide = groups.pivot_table(index="patient_id", columns="group", values="score")
        per_patient = totals.set_index("patient_id")[
            ["pseudonym", "site", "subtype", "timepoint", "score", "percent_of_max", "mmt8", "ck"]
        ].rename(columns={"score": "total", "percent_of_max": "total_pct"})
        limb_wide = limbs.pivot_table(index="patient_id", columns="limb", values="score")
        per_patient = per_patient.join(limb_wide.add_prefix("limb_")).join(
            wide.add_prefix("group_"))
        patient_scores[scope] = stats.to_records(per_patient.reset_index())
    results["group_profile"] = profile
    results["subtype_comparison"] = comparison
    results["clinical_correlation"] = correlation
    results["patient_scores"] = patient_scores
    return results
