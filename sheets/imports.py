"""Import of existing score sheets into a cohort: grades (the grades export's long format) or
clinical data (the patients export's format), from CSV or XLSX.

Every row is validated before anything is written, and every problem is reported with its row,
column and reason; a file with any bad row imports nothing. The writes then run in one
transaction through the services that audit them: reads through `read_assign`, grades through
`read_record_complete` (one audit row per cell), patients and assessments through
`patient_create` / `patient_update` / `assessment_save`. One recomputation is requested after
the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from analytics.services import results_batch
from cohorts.models import Cohort
from exports.codebook import patient_variables
from scoring.models import ScoringProtocol
from sheets.files import ImportRefused, RowProblem, SheetUnreadable, read_sheet
from sheets.grades import plan_grades, write_grades
from sheets.patients import OLDER_COLUMNS, check_columns, plan_patients, write_patients

GRADES, PATIENTS = "grades", "patients"
NO_PROTOCOL = "the cohort has no scoring protocol; choose one"
UNKNOWN_PROTOCOL = "unknown protocol {slug}"
KIND_UNKNOWN = "the file has neither the grades columns nor the patients columns"


# Singular and plural of each count a summary holds ("1 patient", "2 patients").
_NOUNS = {
    "patients": ("patient created", "patients created"),
    "patients_updated": ("patient updated", "patients updated"),
    "assessments": ("clinical assessment", "clinical assessments"),
    "reads": ("read", "reads"),
    "grades": ("grade", "grades"),
    "studies": ("study", "studies"),
}


def counted(n: int, singular: str, plural: str) -> str:
    """`n` and the noun in the number it needs: "1 study", "0 studies", "2 studies"."""
    return f"{n} {singular if n == 1 else plural}"


@dataclass(frozen=True)
class ImportSummary:
    kind: str
    rows: int
    created: dict[str, int]

    @property
    def rows_text(self) -> str:
        return counted(self.rows, f"{self.kind} row", f"{self.kind} rows")

    @property
    def counts_text(self) -> str:
        return ", ".join(
            counted(n, *_NOUNS.get(what, (what, what))) for what, n in self.created.items()
        )


def detect_kind(columns: list[str]) -> str | None:
    if {"muscle", "grade"} <= set(columns):
        return GRADES
    clinical = {"mmt8", "mmt8_total", "ck", "subtype", "timepoint", "sex"}
    if "pseudonym" in columns and set(columns) & clinical:
        return PATIENTS
    return None


def _protocol(cohort: Cohort, slug: str | None) -> ScoringProtocol:
    if slug:
        protocol = ScoringProtocol.objects.filter(slug=slug).first()
        if protocol is None:
            raise ImportRefused([RowProblem(0, "", UNKNOWN_PROTOCOL.format(slug=slug))])
        return protocol
    setup = getattr(cohort, "scoring_setup", None)
    if setup is None:
        raise ImportRefused([RowProblem(0, "", NO_PROTOCOL)])
    return setup.protocol


def _in_one_transaction(write: Callable[[], dict[str, int]]) -> dict[str, int]:
    """All or nothing, then one recomputation of the cohort after the commit."""
    try:
        with results_batch(), transaction.atomic():
            return write()
    except ValidationError as exc:  # a service refused after all: nothing was written
        raise ImportRefused([RowProblem(0, "", " ".join(exc.messages))]) from exc


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
    every problem found (and writes nothing) if any row is bad.

    `reader` (a radiologist's username) overrides the sheet's reader column; `protocol` (a
    slug) the cohort's protocol; `kind` (grades or patients) the detection by columns.
    """
    try:
        sheet = read_sheet(content, filename)
    except SheetUnreadable as exc:
        raise ImportRefused([RowProblem(exc.row, "", str(exc))]) from exc
    kind = kind or detect_kind(sheet.columns)
    if kind == GRADES:
        scoring_protocol = _protocol(cohort, protocol)
        reads = plan_grades(sheet, cohort=cohort, protocol=scoring_protocol, reader=reader)
        reason = f"imported from {filename or 'a score sheet'}"
        created = _in_one_transaction(
            lambda: write_grades(reads, protocol=scoring_protocol, actor=actor, reason=reason)
        )
    elif kind == PATIENTS:
        known = {v.name for v in patient_variables()} | OLDER_COLUMNS
        check_columns(sheet, required=("pseudonym",), known=known)
        patients = plan_patients(sheet, cohort=cohort)
        created = _in_one_transaction(lambda: write_patients(patients, cohort=cohort, actor=actor))
    else:
        raise ImportRefused([RowProblem(1, "", KIND_UNKNOWN)])
    return ImportSummary(kind=kind, rows=len(sheet.rows), created=created)
