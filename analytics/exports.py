"""The statisticians' exports of one cohort as tidy tables (columns from the codebook).

The caller has already checked that the user may see the cohort (`cohort_get_for_user`); every
query here is scoped to that cohort. Long tables are produced in batches so memory stays flat:
the grades by batches of reads, the scores by batches of patients.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cohorts.models import ClinicalAssessment, Cohort, Patient, Series
from scoring.models import Grade, GradeSequence, Muscle, Read

from . import stats
from .codebook import (
    LIST_SEPARATOR,
    AtlasVocabulary,
    atlas_vocabulary,
    codebook_rows,
    codebook_variables,
    export_variables,
    patient_variables,
)
from .export_formats import ExportTable, csv_line
from .models import ReadScores

GRADE_STATUSES = ("submitted", "all")
SCORE_SCOPES = ("unified", "stir", "t1")
# Reads per grades query (x 240 cells for a whole-body read) and patients per scores query.
READS_PER_BATCH = 250
PATIENTS_PER_BATCH = 500
SCORE_DECIMALS = 6
_KIND_ORDER = {kind: i for i, kind in enumerate(Read.Kind.values)}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _score(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), SCORE_DECIMALS)


# --- grades -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AtlasMuscle:
    rank: int
    region: str
    group: str
    slug: str


def _atlas_muscles() -> dict[int, _AtlasMuscle]:
    rows = Muscle.objects.order_by(
        "group__region__order", "group__order", "order", "pk"
    ).values_list("pk", "group__region__slug", "group__slug", "slug")
    return {
        pk: _AtlasMuscle(rank, region, group, slug)
        for rank, (pk, region, group, slug) in enumerate(rows)
    }


def series_by_study_and_sequence(*, cohort: Cohort) -> dict[tuple[int, str], str]:
    """For each study and graded sequence, the series a grade of that sequence was given on:
    the one with the most images, the first imported on a tie (as the reading page shows it)."""
    from django.db.models import Count

    rows = (
        Series.objects.filter(study__patient__cohort=cohort, sequence__in=GradeSequence.values)
        .annotate(n_images=Count("instances"))
        .values_list("study_id", "sequence", "series_uid", "n_images", "pk")
    )
    best: dict[tuple[int, str], tuple[int, int, str]] = {}
    for study_id, sequence, uid, n_images, pk in rows:
        key = (study_id, sequence)
        candidate = (-n_images, pk, uid)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    return {key: uid for key, (_n, _pk, uid) in best.items()}


def _grade_reads(cohort: Cohort, status: str) -> list[tuple]:
    """The exported reads in export order: patient, timepoint, study, reader, kind."""
    reads = Read.objects.filter(study__patient__cohort=cohort)
    if status == "submitted":
        reads = reads.filter(status=Read.Status.SUBMITTED)
    rows = list(
        reads.values_list(
            "pk",
            "study_id",
            "study__patient__pseudonym",
            "study__patient__subtype",
            "study__patient__site__code",
            "study__timepoint",
            "study__study_uid",
            "reader__username",
            "status",
            "kind",
            "protocol__slug",
        )
    )
    rows.sort(key=lambda r: (r[2], r[5], r[6], r[7], _KIND_ORDER.get(r[9], 99), r[10], r[0]))
    return rows


class GradesExport:
    """Long grades: one row per read, muscle, side and sequence."""

    def __init__(self, *, cohort: Cohort, status: str, atlas: AtlasVocabulary) -> None:
        self.variables = export_variables("grades", atlas)
        self.reads = _grade_reads(cohort, status)
        self.series = series_by_study_and_sequence(cohort=cohort)
        self.muscles = _atlas_muscles()

    def _read_fields(self, read: tuple, sequence: str) -> list[Any]:
        pk, study_id, pseudonym, subtype, site, timepoint, study_uid, reader, status, kind, _ = read
        series = self.series.get((study_id, sequence), "")
        return [pseudonym, subtype, site, timepoint, study_uid, series, reader, status, kind]

    def _cell_batches(self) -> Iterator[tuple[list[tuple], list[tuple]]]:
        """(reads, grade cells) per batch of reads, cells in export order."""
        muscle_rank = {pk: m.rank for pk, m in self.muscles.items()}
        for batch in _chunks(self.reads, READS_PER_BATCH):
            rank = {read[0]: i for i, read in enumerate(batch)}
            cells = list(
                Grade.objects.filter(read_id__in=list(rank))
                .order_by()
                .values_list("read_id", "muscle_id", "side", "sequence", "value")
            )
            cells.sort(key=lambda c: (rank[c[0]], muscle_rank[c[1]], c[2], c[3]))
            yield list(batch), cells

    def rows(self) -> Iterator[tuple]:
        for batch, cells in self._cell_batches():
            reads = {read[0]: read for read in batch}
            for read_id, muscle_id, side, sequence, value in cells:
                muscle = self.muscles[muscle_id]
                yield (
                    *self._read_fields(reads[read_id], sequence),
                    muscle.region,
                    muscle.group,
                    muscle.slug,
                    side,
                    sequence,
                    value,
                )

    def csv_text(self) -> Iterator[str]:
        """The CSV as the generic writer would write it, formatted once per read and muscle:
        side, sequence and grade are constrained codes that never need quoting."""
        from .export_formats import csv_cell

        yield csv_line(v.name for v in self.variables)
        muscle_part = {
            pk: csv_line([m.region, m.group, m.slug])[:-1] + "," for pk, m in self.muscles.items()
        }
        for batch, cells in self._cell_batches():
            prefix = {
                (read[0], sequence): csv_line(
                    csv_cell(v) for v in self._read_fields(read, sequence)
                )[:-1]
                + ","
                for read in batch
                for sequence in GradeSequence.values
            }
            yield "".join(
                [f"{prefix[(r, q)]}{muscle_part[m]}{s},{q},{v}\n" for r, m, s, q, v in cells]
            )

    def json_text(self) -> Iterator[str]:
        """The JSON array as the generic writer would write it (same keys, same spacing)."""
        names = [v.name for v in self.variables]
        yield "["
        muscle_part = {
            pk: json.dumps(dict(zip(names[9:12], [m.region, m.group, m.slug], strict=True)))[1:-1]
            for pk, m in self.muscles.items()
        }
        separator = "\n"
        for batch, cells in self._cell_batches():
            prefix = {
                (read[0], sequence): json.dumps(
                    dict(zip(names[:9], self._read_fields(read, sequence), strict=True)),
                    ensure_ascii=False,
                )[:-1]
                for read in batch
                for sequence in GradeSequence.values
            }
            parts = []
            for r, m, s, q, v in cells:
                parts.append(
                    f'{separator}{prefix[(r, q)]}, {muscle_part[m]}, "side": "{s}", '
                    f'"sequence": "{q}", "grade": "{v}"}}'
                )
                separator = ",\n"
            yield "".join(parts)
        yield "\n]\n"


def grades_table(*, cohort: Cohort, status: str = "submitted") -> ExportTable:
    if status not in GRADE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(GRADE_STATUSES)}")
    export = GradesExport(cohort=cohort, status=status, atlas=atlas_vocabulary())
    return ExportTable(
        name="grades",
        variables=export.variables,
        rows=export.rows,
        csv_text=export.csv_text,
        json_text=export.json_text,
    )


# --- scores (from stored ReadScores, readers combined) ---------------------------------------


def _cohort_patients(cohort: Cohort) -> list[tuple]:
    rows = list(
        Patient.objects.filter(cohort=cohort).values_list(
            "pk", "pseudonym", "subtype", "site__code", "sex", "age_at_mri"
        )
    )
    rows.sort(key=lambda r: r[1])
    return rows


def _stored_scores(patient_ids: Sequence[int]) -> list[tuple]:
    """Stored scores of the submitted reads of these patients (re-reads left out, as in the
    cohort analyses): (patient_id, timepoint, is_consensus, scores)."""
    rows = (
        ReadScores.objects.filter(
            read__study__patient_id__in=list(patient_ids), read__status=Read.Status.SUBMITTED
        )
        .exclude(read__kind=Read.Kind.REREAD)
        .values_list("read__study__patient_id", "read__study__timepoint", "read__kind", "scores")
    )
    return [(p, t, kind == Read.Kind.CONSENSUS, scores) for p, t, kind, scores in rows]


def _combined(stored: list[tuple], scope: str, level: str) -> pd.DataFrame:
    """One level of the stored scores with readers combined (consensus, else reader mean)."""
    records = [
        (patient_id, timepoint, consensus, label, value)
        for patient_id, timepoint, consensus, scores in stored
        if scope in scores
        for label, value in scores[scope][level].items()
    ]
    frame = pd.DataFrame(
        records, columns=["patient_id", "timepoint", "is_consensus", level, "score"]
    ).astype({"score": float})
    if frame.empty:
        return pd.DataFrame(
            columns=["patient_id", "timepoint", level, "score", "n_reads", "source"]
        )
    return stats.combine_reader_frame(frame, [level])


def _combined_totals(stored: list[tuple], scope: str) -> pd.DataFrame:
    records = [
        (p, t, c, scores[scope]["total"], scores[scope]["total_pct"])
        for p, t, c, scores in stored
        if scope in scores
    ]
    frame = pd.DataFrame(
        records, columns=["patient_id", "timepoint", "is_consensus", "score", "percent_of_max"]
    ).astype({"score": float, "percent_of_max": float})
    if frame.empty:
        return pd.DataFrame(
            columns=["patient_id", "timepoint", "score", "percent_of_max", "n_reads", "source"]
        )
    return stats.combine_reader_frame(frame, [])


def muscle_scores_table(*, cohort: Cohort, scope: str = "unified") -> ExportTable:
    if scope not in SCORE_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCORE_SCOPES)}")
    atlas = atlas_vocabulary()
    by_slug = {m.slug: m for m in _atlas_muscles().values()}

    def rows() -> Iterator[tuple]:
        patients = _cohort_patients(cohort)
        for batch in _chunks(patients, PATIENTS_PER_BATCH):
            info = {p[0]: (i, p[1], p[2]) for i, p in enumerate(batch)}
            combined = _combined(_stored_scores(list(info)), scope, "muscle")
            out = []
            for patient_id, timepoint, muscle, score in combined[
                ["patient_id", "timepoint", "muscle", "score"]
            ].itertuples(index=False):
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


def group_scores_table(*, cohort: Cohort, scope: str = "unified") -> ExportTable:
    if scope not in SCORE_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCORE_SCOPES)}")
    atlas = atlas_vocabulary()
    variables = export_variables("group-scores", atlas)
    group_slugs = [slug for slug, _name in atlas.groups]
    region_slugs = [slug for slug, _name in atlas.regions]

    def rows() -> Iterator[tuple]:
        assessments = {
            (a["patient_id"], a["timepoint"]): a
            for visits in _assessments(cohort).values()
            for a in visits
        }
        patients = _cohort_patients(cohort)
        for batch in _chunks(patients, PATIENTS_PER_BATCH):
            info = {p[0]: (i, p) for i, p in enumerate(batch)}
            stored = _stored_scores(list(info))
            groups = _combined(stored, scope, "group")
            regions = _combined(stored, scope, "region")
            totals = _combined_totals(stored, scope)
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
                totals.itertuples(index=False), key=lambda v: (info[v.patient_id][0], v.timepoint)
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


def patients_table(*, cohort: Cohort) -> ExportTable:
    """Clinical data: one row per patient and timepoint (one row with an empty timepoint for a
    patient without any clinical assessment)."""

    def rows() -> Iterator[tuple]:
        assessments = _assessments(cohort)
        patients = Patient.objects.filter(cohort=cohort).values(
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
    name: str, *, cohort: Cohort, status: str = "submitted", scope: str = "unified"
) -> ExportTable:
    """One named export of the cohort (see codebook.EXPORT_NAMES)."""
    if name == "grades":
        return grades_table(cohort=cohort, status=status)
    if name == "muscle-scores":
        return muscle_scores_table(cohort=cohort, scope=scope)
    if name == "group-scores":
        return group_scores_table(cohort=cohort, scope=scope)
    if name == "patients":
        return patients_table(cohort=cohort)
    if name == "codebook":
        return codebook_table()
    raise ValueError(f"No export named {name!r}.")


def analysis_results_latest(*, cohort: Cohort, analysis: str | None = None) -> dict[str, Any]:
    """The latest stored result of each analysis of the cohort, and whether they are current."""
    from django.db.models import F

    from .models import AnalysisResult, CohortAnalyticsState

    results = AnalysisResult.objects.filter(cohort=cohort)
    if analysis:
        results = results.filter(analysis=analysis)
    latest: dict[str, AnalysisResult] = {}
    for result in results.order_by(
        "analysis", F("computed_at").desc(nulls_last=True), "-updated_at"
    ):
        latest.setdefault(result.analysis, result)
    state = CohortAnalyticsState.objects.filter(cohort=cohort).first()
    return {
        "cohort": cohort.slug,
        "stale": state.stale if state is not None else True,
        "recomputing": state.recomputing if state is not None else False,
        "results": list(latest.values()),
    }
