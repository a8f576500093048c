"""Import of clinical data in the patients export's format: plan (validate every row) and write
(through the cohorts services, which audit each change). Used by `score_import`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from cohorts.choices import Antibody, Criteria, EmgFinding, Sex, Subtype
from cohorts.models import Cohort, Patient, Site
from cohorts.services import (
    AGE_MAX,
    CK_MAX,
    CK_ULN_MAX,
    DAYS_FROM_BASELINE_MAX,
    MMT8_TOTAL_MAX,
    TIMEPOINT_MAX,
    assessment_rule_errors,
    assessment_save,
    patient_create,
    patient_rule_errors,
    patient_update,
    pseudonym_is_valid,
)
from exports.codebook import LIST_SEPARATOR
from sheets.files import ImportRefused, RowProblem, Sheet, SheetRow

UNKNOWN_COLUMNS = "unknown column(s): {columns}"
MISSING_COLUMNS = "missing column(s): {columns}"
# The forms' limits (cohorts.services), said in the sheet's column names.
MMT8_RANGE = f"MMT-8 must be a whole number from 0 to {MMT8_TOTAL_MAX}"
CK_NEGATIVE = f"CK must be a whole number from 0 to {CK_MAX:,} (U/L)"
CK_ULN_INVALID = f"CK upper limit of normal must be a whole number from 1 to {CK_ULN_MAX:,} (U/L)"
AGE_RANGE = f"age must be a whole number from 0 to {AGE_MAX}"
DURATION_INVALID = "disease duration must be a number ≥ 0 (months, one decimal)"
DAYS_INVALID = f"days_from_baseline must be a whole number from 0 to {DAYS_FROM_BASELINE_MAX:,}"
TIMEPOINT_INVALID = f"timepoint must be a whole number from 0 to {TIMEPOINT_MAX}"
TIMEPOINT_NEEDED = "clinical values need a timepoint"
BOOLEAN_INVALID = "{column} must be true, false or empty"
CHOICE_INVALID = "{column} must be one of {allowed}"
LIST_INVALID = "unknown {column} value(s): {values}"
UNKNOWN_SITE = "unknown site code"
PSEUDONYM_INVALID = (
    "pseudonym must be letters, digits and hyphens (e.g. IIM-0042), up to 40 characters"
)
LIST_TOO_LONG = "{column} holds at most 500 characters"
DUPLICATE_VISIT = "duplicate patient and timepoint: also on row {row}"
PATIENT_DIFFERS = "{column} differs from row {row} of the same patient"

_WHOLE = re.compile(r"-?[0-9]{1,12}")  # ASCII digits only: int() also reads "١٢" and "1_0"
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]+)?")
LIST_MAX_CHARS = 500
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


class _Bad(ValueError):
    pass


def check_columns(sheet: Sheet, *, required: tuple[str, ...], known: set[str]) -> None:
    problems = []
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        text = ", ".join(missing)
        problems.append(RowProblem(1, text, MISSING_COLUMNS.format(columns=text)))
    unknown = [c for c in sheet.columns if c not in known]
    if unknown:
        text = ", ".join(unknown)
        problems.append(RowProblem(1, text, UNKNOWN_COLUMNS.format(columns=text)))
    if problems:
        raise ImportRefused(problems)


def _whole(low: int | None, high: int | None, reason: str) -> Callable[[str], int | None]:
    def parse(text: str) -> int | None:
        if not text:
            return None
        if not _WHOLE.fullmatch(text):
            raise _Bad(reason)
        value = int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise _Bad(reason)
        return value

    return parse


def _duration(text: str) -> Decimal | None:
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise _Bad(DURATION_INVALID)
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise _Bad(DURATION_INVALID) from exc
    if not value.is_finite() or value < 0 or value >= Decimal("100000"):
        raise _Bad(DURATION_INVALID)
    return value.quantize(Decimal("0.1"))


def _boolean(column: str) -> Callable[[str], bool | None]:
    def parse(text: str) -> bool | None:
        lowered = text.lower()
        if not lowered:
            return None
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _Bad(BOOLEAN_INVALID.format(column=column))

    return parse


def _choice(column: str, choices: list[str], blank: Any) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if not text:
            return blank
        if text not in choices:
            raise _Bad(CHOICE_INVALID.format(column=column, allowed=", ".join(choices)))
        return text

    return parse


def _listed(column: str, choices: list[str] | None) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        if len(text) > LIST_MAX_CHARS:
            raise _Bad(LIST_TOO_LONG.format(column=column))
        values = [v.strip() for v in text.split(LIST_SEPARATOR) if v.strip()]
        unknown = [v for v in values if choices is not None and v not in choices]
        if unknown:
            raise _Bad(LIST_INVALID.format(column=column, values=", ".join(unknown)))
        return values

    return parse


# column -> (model field, parser); a blank non-nullable value leaves the field as it is.
PATIENT_COLUMNS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "subtype": ("subtype", _choice("subtype", Subtype.values, None)),
    "sex": ("sex", _choice("sex", Sex.values, None)),
    "age_at_mri": ("age_at_mri", _whole(0, AGE_MAX, AGE_RANGE)),
    "age": ("age_at_mri", _whole(0, AGE_MAX, AGE_RANGE)),  # older sheets' name
    "classification_criteria": (
        "classification_criteria",
        _listed("classification_criteria", Criteria.values),
    ),
    "antibodies": ("antibodies", _listed("antibodies", Antibody.values)),
    "seronegative": ("seronegative", _boolean("seronegative")),
    "biopsy_done": ("biopsy_done", _boolean("biopsy_done")),
    "emg_myopathic": ("emg_myopathic", _choice("emg_myopathic", EmgFinding.values, None)),
}
NOT_NULL_PATIENT_FIELDS = {"subtype", "sex", "seronegative", "emg_myopathic"}
ASSESSMENT_COLUMNS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "days_from_baseline": (
        "days_from_baseline",
        _whole(0, DAYS_FROM_BASELINE_MAX, DAYS_INVALID),
    ),
    "disease_duration_months": ("disease_duration_months", _duration),
    "ck": ("ck", _whole(0, CK_MAX, CK_NEGATIVE)),
    "ck_uln": ("ck_uln", _whole(1, CK_ULN_MAX, CK_ULN_INVALID)),
    "mmt8_total": ("mmt8_total", _whole(0, MMT8_TOTAL_MAX, MMT8_RANGE)),
    "mmt8": ("mmt8_total", _whole(0, MMT8_TOTAL_MAX, MMT8_RANGE)),  # older sheets' name
    "treatment_naive": ("treatment_naive", _boolean("treatment_naive")),
    "immunosuppression": ("immunosuppression", _listed("immunosuppression", None)),
}
NOT_NULL_ASSESSMENT_FIELDS = {"days_from_baseline"}


@dataclass
class PlannedPatient:
    first: SheetRow
    pseudonym: str
    existing: Patient | None
    fields: dict[str, Any]
    assessments: dict[int, dict[str, Any]] = field(default_factory=dict)
    visit_rows: dict[int, SheetRow] = field(default_factory=dict)


def _parse(
    row: SheetRow,
    columns: dict[str, tuple[str, Callable[[str], Any]]],
    not_null: set[str],
    problems: list[RowProblem],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, (name, parse) in columns.items():
        if column not in row.values:
            continue
        try:
            value = parse(row.values[column])
        except _Bad as exc:
            problems.append(RowProblem(row.number, column, str(exc), row.sheet))
            continue
        if value is None and name in not_null:
            continue
        values[name] = value
    return values


def plan_patients(sheet: Sheet, *, cohort: Cohort) -> list[PlannedPatient]:
    existing = {p.pseudonym: p for p in Patient.objects.filter(cohort=cohort)}
    sites = {s.code: s for s in Site.objects.all()}
    problems: list[RowProblem] = []
    planned: dict[str, PlannedPatient] = {}
    for row in sheet.rows:
        before = len(problems)
        pseudonym = row.values["pseudonym"]
        # The form's rule, from cohorts: "<script>…" and "NL\r\nX-Injected: 1" broke pages.
        if pseudonym not in existing and not pseudonym_is_valid(pseudonym):
            problems.append(RowProblem(row.number, "pseudonym", PSEUDONYM_INVALID, row.sheet))
        fields = _parse(row, PATIENT_COLUMNS, NOT_NULL_PATIENT_FIELDS, problems)
        if "site" in row.values:
            code = row.values["site"]
            if code and code not in sites:
                problems.append(RowProblem(row.number, "site", UNKNOWN_SITE, row.sheet))
            fields["site"] = sites.get(code)
        assessment = _parse(row, ASSESSMENT_COLUMNS, NOT_NULL_ASSESSMENT_FIELDS, problems)
        timepoint = _row_timepoint(row, problems)
        if len(problems) == before:
            problems += _clinical_rules(row, fields, assessment)
        if len(problems) > before:
            continue
        patient = planned.get(pseudonym)
        if patient is None:
            patient = planned[pseudonym] = PlannedPatient(
                row, pseudonym, existing.get(pseudonym), fields
            )
        else:
            problems += _differences(patient, row, fields)
        if timepoint is not None:
            if timepoint in patient.visit_rows:
                where = patient.visit_rows[timepoint].where
                problems.append(
                    RowProblem(
                        row.number, "timepoint", DUPLICATE_VISIT.format(row=where), row.sheet
                    )
                )
                continue
            patient.assessments[timepoint] = assessment
            patient.visit_rows[timepoint] = row
    if problems:
        raise ImportRefused(sorted(problems, key=RowProblem.sort_key))
    return list(planned.values())


def _row_timepoint(row: SheetRow, problems: list[RowProblem]) -> int | None:
    """The row's timepoint; a row with clinical values must name one."""
    text = row.values.get("timepoint", "")
    if text:
        if re.fullmatch(r"[0-9]{1,3}", text) and int(text) <= TIMEPOINT_MAX:
            return int(text)
        problems.append(RowProblem(row.number, "timepoint", TIMEPOINT_INVALID, row.sheet))
    elif any(row.values.get(c) for c in ASSESSMENT_COLUMNS):
        problems.append(RowProblem(row.number, "timepoint", TIMEPOINT_NEEDED, row.sheet))
    return None


# Columns older sheets (and the patients export before it took the model's names) use.
OLDER_COLUMNS = {"age", "mmt8"}


def _column_of(name: str, row: SheetRow) -> str:
    """The sheet's column of a field, as this row names it."""
    columns = PATIENT_COLUMNS | ASSESSMENT_COLUMNS
    return next((c for c, (n, _p) in columns.items() if n == name and c in row.values), name)


def _clinical_rules(
    row: SheetRow, fields: dict[str, Any], assessment: dict[str, Any]
) -> list[RowProblem]:
    """The rules the clinical forms apply across fields (seronegative with an antibody, a
    treatment-naive patient under immunosuppression, ...), reported on the row."""
    errors = patient_rule_errors(
        age_at_mri=fields.get("age_at_mri"),
        antibodies=fields.get("antibodies") or [],
        seronegative=bool(fields.get("seronegative")),
        classification_criteria=fields.get("classification_criteria") or [],
    )
    errors |= assessment_rule_errors(
        disease_duration_months=assessment.get("disease_duration_months"),
        ck=assessment.get("ck"),
        ck_uln=assessment.get("ck_uln"),
        mmt8_total=assessment.get("mmt8_total"),
        treatment_naive=assessment.get("treatment_naive"),
        immunosuppression=assessment.get("immunosuppression") or [],
        days_from_baseline=assessment.get("days_from_baseline"),
    )
    return [
        RowProblem(row.number, _column_of(name, row), " ".join(messages), row.sheet)
        for name, messages in errors.items()
    ]


def _differences(
    patient: PlannedPatient, row: SheetRow, fields: dict[str, Any]
) -> list[RowProblem]:
    """A later row of a patient must repeat the patient's values as the first row gave them."""
    problems = []
    for name, value in fields.items():
        if patient.fields.get(name) != value:
            column = _column_of(name, row)
            where = patient.first.where
            problems.append(
                RowProblem(
                    row.number, column, PATIENT_DIFFERS.format(column=column, row=where), row.sheet
                )
            )
    return problems


def write_patients(
    planned: list[PlannedPatient], *, cohort: Cohort, actor: AbstractBaseUser | None
) -> dict[str, int]:
    created = assessments = 0
    for p in planned:
        if p.existing is not None:
            patient = patient_update(patient=p.existing, actor=actor, **p.fields)
        else:
            patient = patient_create(cohort=cohort, actor=actor, pseudonym=p.pseudonym, **p.fields)
            created += 1
        for timepoint, fields in sorted(p.assessments.items()):
            assessment_save(patient=patient, timepoint=timepoint, actor=actor, **fields)
            assessments += 1
    return {
        "patients": created,
        "patients_updated": len(planned) - created,
        "assessments": assessments,
    }
