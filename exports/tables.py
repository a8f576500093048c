"""The statisticians' exports of one cohort as tidy tables (columns from the codebook).

The caller has already checked that the user may see the cohort (`cohort_get_for_user`); every
query here is scoped to that cohort. Long tables are produced in batches so memory stays flat:
the grades by batches of reads (grade_export), the scores by batches of patients.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from analytics.selectors import patient_level_scores, patient_scores
from cohorts.models import ClinicalAssessment, Cohort, Patient
from exports.codebook import (
    LIST_SEPARATOR,
    atlas_vocabulary,
    codebook_rows,
    codebook_variables,
    export_variables,
    patient_variables,
)
from exports.filters import NO_FILTERS, ExportFilters
from exports.formats import ExportTable
from exports.grades import GRADE_STATUSES, atlas_muscles, grades_table
from exports.read_scores import SCORE_SCOPES, read_scores_table

__all__ = ["GRADE_STATUSES", "SCORE_SCOPES", "analysis_results_for", "export_table"]

# Patients per stored-scores query.
PATIENTS_PER_BATCH = 500


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _score(value: Any) -> float | None:
    """A score as stored: exact, never rounded (statisticians rank and compare them)."""
    if value is None or pd.isna(value):
        return None
    return float(value)


# --- scores (from stored ReadScores, readers combined) ---------------------------------------


def _cohort_patients(cohort: Cohort, filters: ExportFilters) -> list[tuple]:
    rows = list(
        filters.patients(Patient.objects.filter(cohort=cohort)).values_list(
            "pk", "pseudonym", "subtype", "site__code", "sex", "age_at_mri"
        )
    )
    rows.sort(key=lambda r: r[1])
    return rows


def muscle_scores_table(
    *, cohort: Cohort, scope: str = "unified", filters: ExportFilters = NO_FILTERS
) -> ExportTable:
    if scope not in SCORE_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCORE_SCOPES)}")
    atlas = atlas_vocabulary(cohort, filters.protocol)
    atlas.one_scale(scope)  # refused before anything is written when scales would pool
    by_slug = {m.slug: m for m in atlas_muscles().values()}

    def rows() -> Iterator[tuple]:
        patients = _cohort_patients(cohort, filters)
        for batch in _chunks(patients, PATIENTS_PER_BATCH):
            info = {p[0]: (i, p[1], p[2]) for i, p in enumerate(batch)}
            scores = patient_scores(list(info), protocol=filters.protocol)
            combined = patient_level_scores(scores, scope, "muscle")
            out = []
            for patient_id, timepoint, muscle, score in combined[
                ["patient_id", "timepoint", "muscle", "score"]
            ].itertuples(index=False):
                if not filters.keeps_timepoint(int(timepoint)):
                    continue
                rank, pseudonym, subtype = info[patient_id]
                m = by_slug[muscle]
                out.append(
                    (
                        (rank, timepoint, m.rank),
                        (
                            pseudonym,
                            subtype,
                            int(timepoint),
                            m.region,
                            m.group,
                            m.slug,
                            _score(score),
                        ),
                    )
                )
            out.sort(key=lambda item: item[0])
            for _key, row in out:
                yield row

    return ExportTable(
        name="muscle-scores", variables=export_variables("muscle-scores", atlas), rows=rows
    )


def _assessments(cohort: Cohort) -> dict[int, list[dict[str, Any]]]:
    by_patient: dict[int, list[dict[str, Any]]] = {}
    for a in (
        ClinicalAssessment.objects.filter(patient__cohort=cohort)
        .order_by("patient_id", "timepoint")
        .values()
    ):
        by_patient.setdefault(a["patient_id"], []).append(a)
    return by_patient


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def group_scores_table(
    *, cohort: Cohort, scope: str = "unified", filters: ExportFilters = NO_FILTERS
) -> ExportTable:
    if scope not in SCORE_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCORE_SCOPES)}")
    atlas = atlas_vocabulary(cohort, filters.protocol)
    atlas.one_scale(scope)  # refused before anything is written when scales would pool
    variables = export_variables("group-scores", atlas)
    group_slugs = [slug for slug, _name in atlas.groups]
    region_slugs = [slug for slug, _name in atlas.regions]

    def rows() -> Iterator[tuple]:
        assessments = {
            (a["patient_id"], a["timepoint"]): a
            for visits in _assessments(cohort).values()
            for a in visits
        }
        patients = _cohort_patients(cohort, filters)
        for batch in _chunks(patients, PATIENTS_PER_BATCH):
            info = {p[0]: (i, p) for i, p in enumerate(batch)}
            scores = patient_scores(list(info), protocol=filters.protocol)
            groups = patient_level_scores(scores, scope, "group")
            regions = patient_level_scores(scores, scope, "region")
            totals = patient_level_scores(scores, scope, "total")
            group_at = {
                (p, t, g): s
                for p, t, g, s in groups[["patient_id", "timepoint", "group", "score"]].itertuples(
                    index=False
                )
            }
            region_at = {
                (p, t, r): s
                for p, t, r, s in regions[
                    ["patient_id", "timepoint", "region", "score"]
                ].itertuples(index=False)
            }
            visits = sorted(
                (v for v in totals.itertuples(index=False) if filters.keeps_timepoint(v.timepoint)),
                key=lambda v: (info[v.patient_id][0], v.timepoint),
            )
            for visit in visits:
                _rank, (patient_id, pseudonym, subtype, site, sex, age) = info[visit.patient_id]
                timepoint = int(visit.timepoint)
                a = assessments.get((patient_id, timepoint), {})
                yield (
                    pseudonym,
                    site,
                    timepoint,
                    subtype,
                    sex,
                    age,
                    _float(a.get("disease_duration_months")),
                    a.get("ck"),
                    a.get("mmt8_total"),
                    a.get("treatment_naive"),
                    visit.source,
                    int(visit.n_reads),
                    *(_score(group_at.get((patient_id, timepoint, g))) for g in group_slugs),
                    *(_score(region_at.get((patient_id, timepoint, r))) for r in region_slugs),
                    _score(visit.score),
                    _score(visit.percent_of_max),
                )

    return ExportTable(name="group-scores", variables=variables, rows=rows)


# --- patients and codebook --------------------------------------------------------------------


def _joined(values: Sequence[str] | None) -> str:
    return LIST_SEPARATOR.join(values or [])


def patients_table(*, cohort: Cohort, filters: ExportFilters = NO_FILTERS) -> ExportTable:
    """Clinical data: one row per patient and timepoint (one row with an empty timepoint for a
    patient without any clinical assessment, left out when timepoints are asked for)."""

    def rows() -> Iterator[tuple]:
        assessments = _assessments(cohort)
        patients = filters.patients(Patient.objects.filter(cohort=cohort)).values(
            "pk",
            "pseudonym",
            "site__code",
            "subtype",
            "sex",
            "age_at_mri",
            "classification_criteria",
            "antibodies",
            "seronegative",
            "biopsy_done",
            "emg_myopathic",
        )
        for p in sorted(patients, key=lambda p: p["pseudonym"]):
            for a in assessments.get(p["pk"]) or [None]:
                if filters.timepoints and not (a and filters.keeps_timepoint(a["timepoint"])):
                    continue
                a = a or {}
                yield (
                    p["pseudonym"],
                    p["site__code"],
                    a.get("timepoint"),
                    a.get("days_from_baseline"),
                    p["subtype"],
                    p["sex"],
                    p["age_at_mri"],
                    _joined(p["classification_criteria"]),
                    _joined(p["antibodies"]),
                    p["seronegative"],
                    p["biopsy_done"],
                    p["emg_myopathic"],
                    _float(a.get("disease_duration_months")),
                    a.get("ck"),
                    a.get("ck_uln"),
                    a.get("mmt8_total"),
                    a.get("treatment_naive"),
                    _joined(a.get("immunosuppression")),
                )

    return ExportTable(name="patients", variables=patient_variables(), rows=rows)


def codebook_table() -> ExportTable:
    atlas = atlas_vocabulary()
    return ExportTable(
        name="codebook", variables=codebook_variables(), rows=lambda: codebook_rows(atlas)
    )


def export_table(
    name: str,
    *,
    cohort: Cohort,
    status: str = "submitted",
    scope: str = "unified",
    scopes: Sequence[str] = (),
    filters: ExportFilters = NO_FILTERS,
) -> ExportTable:
    """One named export of the cohort (see codebook.EXPORT_NAMES), with its dataset version.
    `scope` chooses the combined scores' scope, `scopes` the read-scores' (empty: all)."""
    if name == "grades":
        table = grades_table(cohort=cohort, status=status, filters=filters)
    elif name == "read-scores":
        table = read_scores_table(cohort=cohort, filters=filters, scopes=scopes)
    elif name == "muscle-scores":
        table = muscle_scores_table(cohort=cohort, scope=scope, filters=filters)
    elif name == "group-scores":
        table = group_scores_table(cohort=cohort, scope=scope, filters=filters)
    elif name == "patients":
        table = patients_table(cohort=cohort, filters=filters)
    elif name == "codebook":
        table = codebook_table()
    else:
        raise ValueError(f"No export named {name!r}.")
    options = {"status": status, "scope": scope, "scopes": sorted(scopes), **filters.as_options()}
    return dataclasses.replace(table, version=dataset_version(cohort, name, options))


def dataset_version(cohort: Cohort, export: str = "", options: dict | None = None) -> str:
    """The version of what a cohort's exports are made of: a hash of every read's state
    (id, kind, status, version: a grade change bumps it), every patient's and assessment's
    stored values, the export's options and the code version. Equal versions: equal files."""
    from analytics.recompute import CODE_VERSION
    from scoring.models import Read

    def values(model: type, **lookup: Any) -> list:
        names = [f.attname for f in model._meta.concrete_fields]
        return list(model.objects.filter(**lookup).order_by("pk").values_list(*names))

    reads = Read.objects.filter(study__patient__cohort=cohort).order_by("pk")
    payload = [
        CODE_VERSION,
        export,
        sorted((options or {}).items()),
        list(reads.values_list("pk", "kind", "status", "version")),
        values(Patient, cohort=cohort),
        values(ClinicalAssessment, patient__cohort=cohort),
    ]
    text = json.dumps(payload, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def analysis_results_for(
    *, cohort: Cohort, parameters: dict[str, Any], analysis: str | None = None
) -> dict[str, Any]:
    """The stored results of one parameter set (every analysis, or one), and whether they are
    current: "fresh", "stale" (the data changed since; a recomputation is queued or running),
    "failed" (the last recomputation failed: these are older results) or "not computed"."""
    from analytics.models import CohortAnalyticsState
    from analytics.result_rows import stored_result_value
    from analytics.selectors import stored_results

    results = stored_results(cohort=cohort, parameters=parameters)
    if analysis:
        results = {name: r for name, r in results.items() if name == analysis}
    for result in results.values():  # per-patient rows are stored apart: the result as computed
        result.result = stored_result_value(result)
    state = CohortAnalyticsState.objects.filter(cohort=cohort).first()
    stale = state.stale if state is not None else True
    if not results:
        status = "not computed"
    elif state is not None and state.last_error:
        status = "failed"
    else:
        status = "stale" if stale else "fresh"
    return {
        "cohort": cohort.slug,
        "status": status,
        "last_error": state.last_error if state is not None else "",
        "stale": stale,
        "recomputing": state.recomputing if state is not None else False,
        "parameters": parameters,
        "results": sorted(results.values(), key=lambda r: r.analysis),
    }
