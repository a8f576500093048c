"""Import of existing score sheets into a cohort: grades (the grades export's long format) and
clinical data (the patients export's format), from CSV or XLSX.

Every row is validated before anything is written, and every problem is reported with its row,
column and reason; a file with any bad row imports nothing. The writes then run in one
transaction through the services that audit them: reads through `read_assign`, grades through
`read_record_complete` (one audit row per cell), patients and assessments through
`patient_create` / `patient_update` / `assessment_save`. One recomputation is queued at the end.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from cohorts.audit import audit_record
from cohorts.choices import BodyCoverage
from cohorts.models import Cohort, ImagingStudy, Patient
from cohorts.roles import RADIOLOGIST, has_role
from scoring.models import GradeValue, Muscle, Read, ScoringProtocol, Side
from scoring.services import read_assign, read_record_complete

from .codebook import AtlasVocabulary, grades_variables, patient_variables
from .exports import series_by_study_and_sequence
from .patient_import import check_columns, plan_patients, write_patients
from .services import results_batch
from .sheets import ImportRefused, RowProblem, Sheet, SheetRow, SheetUnreadable, read_sheet

GRADES, PATIENTS = "grades", "patients"
GRADES_REQUIRED = ("pseudonym", "muscle", "side", "sequence", "grade")

UNKNOWN_PSEUDONYM = "unknown pseudonym: no such patient in this cohort"
UNKNOWN_MUSCLE = "unknown muscle"
MUSCLE_NOT_IN_PROTOCOL = "muscle is not graded under the protocol {protocol}"
MUSCLE_ELSEWHERE = "muscle {muscle} belongs to {level} {actual}"
GRADE_INVALID = "grade must be 0, 1, 2 or NA"
SIDE_INVALID = "side must be {allowed} for this muscle"
SEQUENCE_INVALID = "sequence must be one of {allowed}"
DUPLICATE_CELL = "duplicate cell: the same read, muscle, side and sequence is on row {row}"
TIMEPOINT_INVALID = "timepoint must be a whole number ≥ 0"
UNKNOWN_READER = "unknown reader"
READER_NOT_RADIOLOGIST = "reader is not a radiologist"
READER_MISSING = "no reader: fill the reader column or choose a reader for the whole file"
STATUS_INVALID = "read_status must be submitted or in_progress"
STATUS_DIFFERS = "read_status differs from row {row} of the same read"
KIND_INVALID = "read_kind must be one of {allowed}"
STUDY_OTHER_PATIENT = "study belongs to {pseudonym} at timepoint {timepoint}"
STUDY_OTHER_COHORT = "study belongs to another cohort"
STUDY_AMBIGUOUS = "the patient has several studies at this timepoint: fill the study column"
SERIES_UNKNOWN = "series is not this study's {sequence} series"
MISMATCH = "{column} {value} does not match the patient's {actual}"
READ_HAS_GRADES = "read {label} already has grades; an import never overwrites a reader's work"
READ_INCOMPLETE = (
    "the read is submitted but {missing} of {total} cells are missing (first: {first}); "
    "grade them or mark them NA, or import the read as in_progress"
)
NO_PROTOCOL = "the cohort has no scoring protocol; choose one"
KIND_UNKNOWN = "the file has neither the grades columns nor the patients columns"
IMPORTED_STUDY = "Score sheet import (no images)"
_NO_ATLAS = AtlasVocabulary((), (), ())


@dataclass(frozen=True)
class ImportSummary:
    kind: str
    rows: int
    created: dict[str, int]


def detect_kind(columns: list[str]) -> str | None:
    if {"muscle", "grade"} <= set(columns):
        return GRADES
    if "pseudonym" in columns and set(columns) & {"mmt8", "ck", "subtype", "timepoint", "sex"}:
        return PATIENTS
    return None


# --- grades: plan ---------------------------------------------------------------------------


@dataclass
class PlannedRead:
    first: SheetRow
    patient: Patient
    timepoint: int
    study: ImagingStudy | None
    study_uid: str
    reader: AbstractBaseUser
    kind: str
    status: str
    cells: dict[tuple[str, str, str], str] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], SheetRow] = field(default_factory=dict)


class _GradeRules:
    """What a grades row is checked against: the cohort's patients and studies, the atlas, the
    protocol and the radiologists."""

    def __init__(self, cohort: Cohort, protocol: ScoringProtocol, reader: str | None) -> None:
        self.cohort = cohort
        self.protocol = protocol
        self.fixed_reader = reader
        self.patients = {
            p.pseudonym: p for p in Patient.objects.filter(cohort=cohort).select_related("site")
        }
        self.studies = {s.study_uid: s for s in ImagingStudy.objects.filter(patient__cohort=cohort)}
        self.visits: dict[tuple[int, int], list[ImagingStudy]] = defaultdict(list)
        for study in self.studies.values():
            self.visits[(study.patient_id, study.timepoint)].append(study)
        self.series = series_by_study_and_sequence(cohort=cohort)
        self.muscles = {m.slug: m for m in Muscle.objects.select_related("group__region")}
        self.protocol_muscles = set(protocol.muscles.values_list("slug", flat=True))
        self.readers: dict[str, AbstractBaseUser | None] = {}
        self.uids_elsewhere: dict[str, bool] = {}

    def reader(self, username: str) -> AbstractBaseUser | None:
        if username not in self.readers:
            self.readers[username] = get_user_model().objects.filter(username=username).first()
        return self.readers[username]

    def uid_taken_elsewhere(self, uid: str) -> bool:
        if uid not in self.uids_elsewhere:
            self.uids_elsewhere[uid] = ImagingStudy.objects.filter(study_uid=uid).exists()
        return self.uids_elsewhere[uid]


def _check_row(rules: _GradeRules, row: SheetRow, problems: list[RowProblem]) -> tuple | None:
    """The read key and cell of one row, or None (with problems added) if the row is bad."""
    v = row.values
    bad = len(problems)

    def problem(column: str, reason: str) -> None:
        problems.append(RowProblem(row.number, column, reason, row.sheet))

    patient = rules.patients.get(v["pseudonym"])
    if patient is None:
        problem("pseudonym", UNKNOWN_PSEUDONYM)
    else:
        for column, actual in (
            ("subtype", patient.subtype),
            ("site", patient.site.code if patient.site else ""),
        ):
            if v.get(column) and v[column] != actual:
                problem(
                    column,
                    MISMATCH.format(column=column, value=v[column], actual=actual or "(none)"),
                )
    timepoint_text = v.get("timepoint", "") or "0"
    timepoint = int(timepoint_text) if timepoint_text.isdigit() else None
    if timepoint is None:
        problem("timepoint", TIMEPOINT_INVALID)

    muscle = rules.muscles.get(v["muscle"])
    if muscle is None:
        problem("muscle", UNKNOWN_MUSCLE)
    elif muscle.slug not in rules.protocol_muscles:
        problem("muscle", MUSCLE_NOT_IN_PROTOCOL.format(protocol=rules.protocol.slug))
    else:
        for level, actual in (("group", muscle.group.slug), ("region", muscle.group.region.slug)):
            if v.get(level) and v[level] != actual:
                problem(
                    level, MUSCLE_ELSEWHERE.format(muscle=muscle.slug, level=level, actual=actual)
                )
        sides = [Side.LEFT.value, Side.RIGHT.value] if muscle.paired else [Side.MIDLINE.value]
        if v["side"] not in sides:
            problem("side", SIDE_INVALID.format(allowed=" or ".join(sides)))
    if v["sequence"] not in rules.protocol.sequences:
        problem("sequence", SEQUENCE_INVALID.format(allowed=", ".join(rules.protocol.sequences)))
    grade = v["grade"].upper()
    if grade not in GradeValue.values:
        problem("grade", GRADE_INVALID)

    username = rules.fixed_reader or v.get("reader", "")
    reader = rules.reader(username) if username else None
    if not username:
        problem("reader", READER_MISSING)
    elif reader is None:
        problem("reader", UNKNOWN_READER)
    elif not has_role(reader, RADIOLOGIST):
        problem("reader", READER_NOT_RADIOLOGIST)
    status = v.get("read_status") or Read.Status.SUBMITTED
    if status not in (Read.Status.SUBMITTED, Read.Status.IN_PROGRESS):
        problem("read_status", STATUS_INVALID)
    kind = v.get("read_kind") or Read.Kind.PRIMARY
    if kind not in Read.Kind.values:
        problem("read_kind", KIND_INVALID.format(allowed=", ".join(Read.Kind.values)))

    study, study_uid = None, v.get("study", "")
    if patient is not None and timepoint is not None:
        if study_uid:
            study = rules.studies.get(study_uid)
            if study is not None and (study.patient_id, study.timepoint) != (patient.pk, timepoint):
                owner = next(p for p in rules.patients.values() if p.pk == study.patient_id)
                problem(
                    "study",
                    STUDY_OTHER_PATIENT.format(
                        pseudonym=owner.pseudonym, timepoint=study.timepoint
                    ),
                )
            elif study is None and rules.uid_taken_elsewhere(study_uid):
                problem("study", STUDY_OTHER_COHORT)
        else:
            candidates = rules.visits.get((patient.pk, timepoint), [])
            if len(candidates) > 1:
                problem("study", STUDY_AMBIGUOUS)
            study = candidates[0] if len(candidates) == 1 else None
            study_uid = study.study_uid if study else ""
        series = v.get("series", "")
        if series and series != rules.series.get((study.pk if study else 0, v["sequence"])):
            problem("series", SERIES_UNKNOWN.format(sequence=v["sequence"]))
    if len(problems) > bad:
        return None
    read_key = (patient.pk, timepoint, study_uid, reader.pk, kind)
    return (
        read_key,
        (patient, timepoint, study, study_uid, reader, kind, status),
        (muscle.slug, v["side"], v["sequence"]),
        grade,
    )


def plan_grades(
    sheet: Sheet, *, cohort: Cohort, protocol: ScoringProtocol, reader: str | None
) -> list[PlannedRead]:
    known = {v.name for v in grades_variables(_NO_ATLAS)}
    check_columns(sheet, required=GRADES_REQUIRED, known=known)
    rules = _GradeRules(cohort, protocol, reader)
    problems: list[RowProblem] = []
    reads: dict[tuple, PlannedRead] = {}
    for row in sheet.rows:
        checked = _check_row(rules, row, problems)
        if checked is None:
            continue
        key, (patient, timepoint, study, uid, reader_user, kind, status), cell, grade = checked
        planned = reads.get(key)
        if planned is None:
            planned = reads[key] = PlannedRead(
                row, patient, timepoint, study, uid, reader_user, kind, status
            )
        elif status != planned.status:
            problems.append(
                RowProblem(
                    row.number,
                    "read_status",
                    STATUS_DIFFERS.format(row=planned.first.where),
                    row.sheet,
                )
            )
            continue
        if cell in planned.rows:
            problems.append(
                RowProblem(
                    row.number,
                    "muscle",
                    DUPLICATE_CELL.format(row=planned.rows[cell].where),
                    row.sheet,
                )
            )
            continue
        planned.cells[cell] = grade
        planned.rows[cell] = row
    problems.extend(_check_reads(reads.values(), protocol))
    if problems:
        raise ImportRefused(sorted(problems, key=RowProblem.sort_key))
    return list(reads.values())


def _expected_cells(protocol: ScoringProtocol) -> list[tuple[str, str, str]]:
    cells = []
    for muscle in protocol.muscles.order_by("group__region__order", "group__order", "order"):
        for side in ("R", "L") if muscle.paired else ("M",):
            cells.extend((muscle.slug, side, sequence) for sequence in protocol.sequences)
    return cells


def _check_reads(reads, protocol: ScoringProtocol) -> list[RowProblem]:  # noqa: ANN001
    problems = []
    expected = _expected_cells(protocol)
    for planned in reads:
        first = planned.first
        if planned.study is not None:
            existing = Read.objects.filter(
                study=planned.study, protocol=protocol, reader=planned.reader, kind=planned.kind
            ).first()
            if existing is not None and existing.grades.exists():
                problems.append(
                    RowProblem(
                        first.number,
                        "reader",
                        READ_HAS_GRADES.format(label=existing.blind_label),
                        first.sheet,
                    )
                )
        if planned.status == Read.Status.SUBMITTED:
            missing = [cell for cell in expected if cell not in planned.cells]
            if missing:
                problems.append(
                    RowProblem(
                        first.number,
                        "muscle",
                        READ_INCOMPLETE.format(
                            missing=len(missing), total=len(expected), first=" ".join(missing[0])
                        ),
                        first.sheet,
                    )
                )
    return problems


# --- grades: write --------------------------------------------------------------------------


def _study_for_import(
    planned: PlannedRead, actor: AbstractBaseUser | None, made: dict
) -> ImagingStudy:
    """The read's study; a score sheet without images gets a study record of its own."""
    if planned.study is not None:
        return planned.study
    key = (planned.patient.pk, planned.timepoint, planned.study_uid)
    if key not in made:
        study = ImagingStudy.objects.create(
            patient=planned.patient,
            timepoint=planned.timepoint,
            study_uid=planned.study_uid or f"2.25.{uuid.uuid4().int}",
            description=IMPORTED_STUDY,
            body_coverage=BodyCoverage.OTHER,
        )
        audit_record(
            actor=actor,
            action="study.create",
            target=study,
            cohort=planned.patient.cohort,
            new={
                "study_uid": study.study_uid,
                "timepoint": study.timepoint,
                "source": "score sheet",
            },
        )
        made[key] = study
    return made[key]


def write_grades(
    reads: list[PlannedRead],
    *,
    protocol: ScoringProtocol,
    actor: AbstractBaseUser | None,
    reason: str,
) -> dict[str, int]:
    made: dict = {}
    n_grades = 0
    for planned in reads:
        study = _study_for_import(planned, actor, made)
        read = read_assign(
            study=study, protocol=protocol, reader=planned.reader, actor=actor, kind=planned.kind
        )
        read_record_complete(
            read=read,
            cells=planned.cells,
            actor=actor,
            reason=reason,
            submit=planned.status == Read.Status.SUBMITTED,
        )
        n_grades += len(planned.cells)
    return {"reads": len(reads), "grades": n_grades, "studies": len(made)}


# --- entry point ----------------------------------------------------------------------------


def _protocol(cohort: Cohort, slug: str | None) -> ScoringProtocol:
    if slug:
        protocol = ScoringProtocol.objects.filter(slug=slug).first()
        if protocol is None:
            raise ImportRefused([RowProblem(0, "", f"unknown protocol {slug}")])
        return protocol
    setup = getattr(cohort, "scoring_setup", None)
    if setup is None:
        raise ImportRefused([RowProblem(0, "", NO_PROTOCOL)])
    return setup.protocol


def score_sheet_import(
    *,
    cohort: Cohort,
    content: bytes,
    filename: str,
    actor: AbstractBaseUser | None,
    reader: str | None = None,
    kind: str | None = None,
    protocol: str | None = None,
) -> ImportSummary:
    """Validate the whole sheet, then write it in one transaction; raises ImportRefused with
    every problem found (and writes nothing) if any row is bad."""
    try:
        sheet = read_sheet(content, filename)
    except SheetUnreadable as exc:
        raise ImportRefused([RowProblem(0, "", str(exc))]) from exc
    kind = kind or detect_kind(sheet.columns)
    reason = f"imported from {filename or 'a score sheet'}"
    if kind == GRADES:
        scoring_protocol = _protocol(cohort, protocol)
        reads = plan_grades(sheet, cohort=cohort, protocol=scoring_protocol, reader=reader)
        created = _in_one_transaction(
            lambda: write_grades(reads, protocol=scoring_protocol, actor=actor, reason=reason)
        )
    elif kind == PATIENTS:
        known = {v.name for v in patient_variables()}
        check_columns(sheet, required=("pseudonym",), known=known)
        planned_patients = plan_patients(sheet, cohort=cohort)
        created = _in_one_transaction(
            lambda: write_patients(planned_patients, cohort=cohort, actor=actor)
        )
    else:
        raise ImportRefused([RowProblem(1, "", KIND_UNKNOWN)])
    return ImportSummary(kind=kind, rows=len(sheet.rows), created=created)


def _in_one_transaction(write):  # noqa: ANN001, ANN202
    """All or nothing, then one recomputation of the cohort after the commit."""
    try:
        with results_batch(), transaction.atomic():
            return write()
    except ValidationError as exc:  # a service refused: nothing was written
        raise ImportRefused([RowProblem(0, "", " ".join(exc.messages))]) from exc
