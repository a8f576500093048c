"""Import of grades in the grades export's long format: plan (check every row against the
cohort, the atlas, the protocol and the radiologists) and write (through the scoring services,
which audit every cell). Used by `score_import`."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from cohorts.choices import BodyCoverage
from cohorts.models import Cohort, ImagingStudy, Patient
from cohorts.roles import RADIOLOGIST, has_role
from cohorts.services import TIMEPOINT_MAX, study_create
from exports.codebook import AtlasVocabulary, grades_variables
from exports.grades import series_by_study_and_sequence
from scoring.models import GradeValue, Muscle, Read, ScoringProtocol, Side
from scoring.services import read_assign, read_record_complete
from sheets.files import ImportRefused, RowProblem, Sheet, SheetRow
from sheets.patients import check_columns

GRADE_COLUMNS = {v.name for v in grades_variables(AtlasVocabulary((), (), ()))}
GRADES_REQUIRED = ("pseudonym", "muscle", "side", "sequence", "grade")

UNKNOWN_PSEUDONYM = "unknown pseudonym: no such patient in this cohort"
UNKNOWN_MUSCLE = "unknown muscle"
MUSCLE_NOT_IN_PROTOCOL = "muscle is not graded under the protocol {protocol}"
MUSCLE_ELSEWHERE = "muscle {muscle} belongs to {level} {actual}"
GRADE_INVALID = "grade must be {values} or NA ({sequence} is graded on the {scale} scale)"
SIDE_INVALID = "side must be {allowed} for this muscle"
SEQUENCE_INVALID = "sequence must be one of {allowed}"
DUPLICATE_CELL = "duplicate cell: the same read, muscle, side and sequence is on row {row}"
TIMEPOINT_INVALID = f"timepoint must be a whole number from 0 to {TIMEPOINT_MAX}"
STUDY_UID_INVALID = "study must be a DICOM UID: digits and dots, at most 64 characters"
# PS3.5 9.1: components of digits without leading zeros, separated by dots, ≤ 64 characters.
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
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
IMPORTED_STUDY = "Score sheet import (no images)"


@dataclass
class PlannedRead:
    """One read of the sheet: whose, of which study, and its cells (with their rows)."""

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

    @property
    def key(self) -> tuple:
        return (self.patient.pk, self.timepoint, self.study_uid, self.reader.pk, self.kind)


class GradeRules:
    """What a grades row is checked against, loaded once per sheet."""

    def __init__(self, cohort: Cohort, protocol: ScoringProtocol, reader: str | None) -> None:
        self.protocol = protocol
        self.fixed_reader = reader
        patients = Patient.objects.filter(cohort=cohort).select_related("site")
        self.patients = {p.pseudonym: p for p in patients}
        self.pseudonyms = {p.pk: p.pseudonym for p in self.patients.values()}
        self.studies = {s.study_uid: s for s in ImagingStudy.objects.filter(patient__cohort=cohort)}
        self.visits: dict[tuple[int, int], list[ImagingStudy]] = defaultdict(list)
        for study in self.studies.values():
            self.visits[(study.patient_id, study.timepoint)].append(study)
        self.series = series_by_study_and_sequence(cohort=cohort)
        self.muscles = {m.slug: m for m in Muscle.objects.select_related("group__region")}
        self.protocol_muscles = set(protocol.muscles.values_list("slug", flat=True))
        self._readers: dict[str, AbstractBaseUser | None] = {}
        self._uids_elsewhere: dict[str, bool] = {}

    def reader(self, username: str) -> AbstractBaseUser | None:
        if username not in self._readers:
            self._readers[username] = get_user_model().objects.filter(username=username).first()
        return self._readers[username]

    def uid_taken_elsewhere(self, uid: str) -> bool:
        if uid not in self._uids_elsewhere:
            self._uids_elsewhere[uid] = ImagingStudy.objects.filter(study_uid=uid).exists()
        return self._uids_elsewhere[uid]


class _RowCheck:
    """One row being checked: its values and the problems found in it."""

    def __init__(self, row: SheetRow) -> None:
        self.row = row
        self.values = row.values
        self.problems: list[RowProblem] = []

    def problem(self, column: str, reason: str) -> None:
        self.problems.append(RowProblem(self.row.number, column, reason, self.row.sheet))


def _patient(rules: GradeRules, check: _RowCheck) -> Patient | None:
    patient = rules.patients.get(check.values["pseudonym"])
    if patient is None:
        check.problem("pseudonym", UNKNOWN_PSEUDONYM)
        return None
    site = patient.site.code if patient.site else ""
    for column, actual in (("subtype", patient.subtype), ("site", site)):
        given = check.values.get(column)
        if given and given != actual:
            check.problem(
                column, MISMATCH.format(column=column, value=given, actual=actual or "(none)")
            )
    return patient


def _timepoint(check: _RowCheck) -> int | None:
    text = check.values.get("timepoint") or "0"
    # ASCII digits only: "²".isdigit() is true, and int("²") raised (a 500).
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > TIMEPOINT_MAX:
        check.problem("timepoint", TIMEPOINT_INVALID)
        return None
    return int(text)


def _cell(rules: GradeRules, check: _RowCheck) -> tuple[tuple[str, str, str], str] | None:
    """(muscle, side, sequence) and the grade."""
    v = check.values
    muscle = rules.muscles.get(v["muscle"])
    if muscle is None:
        check.problem("muscle", UNKNOWN_MUSCLE)
    elif muscle.slug not in rules.protocol_muscles:
        check.problem("muscle", MUSCLE_NOT_IN_PROTOCOL.format(protocol=rules.protocol.slug))
    else:
        for level, actual in (("group", muscle.group.slug), ("region", muscle.group.region.slug)):
            if v.get(level) and v[level] != actual:
                check.problem(
                    level, MUSCLE_ELSEWHERE.format(muscle=muscle.slug, level=level, actual=actual)
                )
        sides = [Side.LEFT.value, Side.RIGHT.value] if muscle.paired else [Side.MIDLINE.value]
        if v["side"] not in sides:
            check.problem("side", SIDE_INVALID.format(allowed=" or ".join(sides)))
    sequences = rules.protocol.sequences
    if v["sequence"] not in sequences:
        check.problem("sequence", SEQUENCE_INVALID.format(allowed=", ".join(sequences)))
    grade = v["grade"].upper()
    if v["sequence"] in sequences:
        scale = rules.protocol.scale_of(v["sequence"])
        if grade != GradeValue.NOT_ASSESSABLE and grade not in scale.values:
            check.problem(
                "grade",
                GRADE_INVALID.format(
                    sequence=v["sequence"], scale=scale.name, values=", ".join(scale.values)
                ),
            )
    return ((v["muscle"], v["side"], v["sequence"]), grade)


def _reader(rules: GradeRules, check: _RowCheck) -> AbstractBaseUser | None:
    username = rules.fixed_reader or check.values.get("reader", "")
    if not username:
        check.problem("reader", READER_MISSING)
        return None
    reader = rules.reader(username)
    if reader is None:
        check.problem("reader", UNKNOWN_READER)
    elif not has_role(reader, RADIOLOGIST):
        check.problem("reader", READER_NOT_RADIOLOGIST)
    return reader


def _read_kind_and_status(check: _RowCheck) -> tuple[str, str]:
    status = check.values.get("read_status") or Read.Status.SUBMITTED
    if status not in (Read.Status.SUBMITTED, Read.Status.IN_PROGRESS):
        check.problem("read_status", STATUS_INVALID)
    kind = check.values.get("read_kind") or Read.Kind.PRIMARY
    if kind not in Read.Kind.values:
        check.problem("read_kind", KIND_INVALID.format(allowed=", ".join(Read.Kind.values)))
    return kind, status


def _study(
    rules: GradeRules, check: _RowCheck, patient: Patient, timepoint: int
) -> tuple[ImagingStudy | None, str]:
    """The row's study (None: one will be made for a sheet without images) and its UID."""
    uid = check.values.get("study", "")
    if uid and (len(uid) > 64 or not _UID.fullmatch(uid)):
        check.problem("study", STUDY_UID_INVALID)
        return None, ""
    if uid:
        study = rules.studies.get(uid)
        if study is not None and (study.patient_id, study.timepoint) != (patient.pk, timepoint):
            owner = rules.pseudonyms[study.patient_id]
            check.problem(
                "study", STUDY_OTHER_PATIENT.format(pseudonym=owner, timepoint=study.timepoint)
            )
        elif study is None and rules.uid_taken_elsewhere(uid):
            check.problem("study", STUDY_OTHER_COHORT)
    else:
        candidates = rules.visits.get((patient.pk, timepoint), [])
        if len(candidates) > 1:
            check.problem("study", STUDY_AMBIGUOUS)
        study = candidates[0] if len(candidates) == 1 else None
        uid = study.study_uid if study else ""
    series, sequence = check.values.get("series", ""), check.values["sequence"]
    if series and series != rules.series.get((study.pk if study else 0, sequence)):
        check.problem("series", SERIES_UNKNOWN.format(sequence=sequence))
    return study, uid


def _check_row(rules: GradeRules, row: SheetRow) -> tuple[PlannedRead | None, tuple, str, list]:
    """The row's read (as a new plan), cell, grade and problems."""
    check = _RowCheck(row)
    patient = _patient(rules, check)
    timepoint = _timepoint(check)
    cell, grade = _cell(rules, check)
    reader = _reader(rules, check)
    kind, status = _read_kind_and_status(check)
    study, uid = None, ""
    if patient is not None and timepoint is not None:
        study, uid = _study(rules, check, patient, timepoint)
    if check.problems:
        return None, cell, grade, check.problems
    read = PlannedRead(row, patient, timepoint, study, uid, reader, kind, status)
    return read, cell, grade, []


def plan_grades(
    sheet: Sheet, *, cohort: Cohort, protocol: ScoringProtocol, reader: str | None
) -> list[PlannedRead]:
    """Every read of the sheet with its cells; ImportRefused with every problem found."""
    check_columns(sheet, required=GRADES_REQUIRED, known=GRADE_COLUMNS)
    rules = GradeRules(cohort, protocol, reader)
    problems: list[RowProblem] = []
    reads: dict[tuple, PlannedRead] = {}
    for row in sheet.rows:
        candidate, cell, grade, row_problems = _check_row(rules, row)
        if candidate is None:
            problems.extend(row_problems)
            continue
        planned = reads.setdefault(candidate.key, candidate)
        if planned.status != candidate.status:
            where = planned.first.where
            problems.append(
                RowProblem(row.number, "read_status", STATUS_DIFFERS.format(row=where), row.sheet)
            )
        elif cell in planned.rows:
            where = planned.rows[cell].where
            problems.append(
                RowProblem(row.number, "muscle", DUPLICATE_CELL.format(row=where), row.sheet)
            )
        else:
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


def _check_reads(reads: Iterable[PlannedRead], protocol: ScoringProtocol) -> list[RowProblem]:
    """Whole-read rules, reported on the read's first row: never overwrite a read's grades; a
    submitted read has every cell of the protocol."""
    problems = []
    expected = _expected_cells(protocol)
    for planned in reads:
        first = planned.first
        if planned.study is not None:
            existing = Read.objects.filter(
                study=planned.study, protocol=protocol, reader=planned.reader, kind=planned.kind
            ).first()
            if existing is not None and existing.grades.exists():
                reason = READ_HAS_GRADES.format(label=existing.blind_label)
                problems.append(RowProblem(first.number, "reader", reason, first.sheet))
        if planned.status == Read.Status.SUBMITTED:
            missing = [cell for cell in expected if cell not in planned.cells]
            if missing:
                reason = READ_INCOMPLETE.format(
                    missing=len(missing), total=len(expected), first=" ".join(missing[0])
                )
                problems.append(RowProblem(first.number, "muscle", reason, first.sheet))
    return problems


def _study_for_import(
    planned: PlannedRead, actor: AbstractBaseUser | None, made: dict[tuple, ImagingStudy]
) -> ImagingStudy:
    """The read's study; a score sheet without images gets a study record of its own."""
    if planned.study is not None:
        return planned.study
    key = (planned.patient.pk, planned.timepoint, planned.study_uid)
    if key not in made:
        made[key] = study_create(
            patient=planned.patient,
            actor=actor,
            study_uid=planned.study_uid or f"2.25.{uuid.uuid4().int}",
            source="sheet",
            timepoint=planned.timepoint,
            description=IMPORTED_STUDY,
            body_coverage=BodyCoverage.OTHER,
        )
    return made[key]


def write_grades(
    reads: list[PlannedRead],
    *,
    protocol: ScoringProtocol,
    actor: AbstractBaseUser | None,
    reason: str,
) -> dict[str, int]:
    """Assign and record each planned read (the caller holds the transaction)."""
    made: dict[tuple, ImagingStudy] = {}
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
    n_grades = sum(len(planned.cells) for planned in reads)
    return {"reads": len(reads), "grades": n_grades, "studies": len(made)}
