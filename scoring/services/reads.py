"""A read's life after assignment: submit, amend, notes, active time, its audit trail."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.services import results_mark_stale
from cohorts.audit import audit_record
from cohorts.models import AuditEvent
from scoring.models import (
    Grade,
    Read,
    Region,
)
from scoring.services.grading import CellChange, grades_set, read_missing_cells
from scoring.services.messages import (
    AMEND_NEEDS_REASON,
    AMEND_NOT_SUBMITTED,
    FINDING_INVALID,
    NOTE_TOO_LONG,
    READ_INCOMPLETE,
    READ_LOCKED,
    READ_STALE,
    TEXT_HAS_NUL,
)

NOTE_MAX_LENGTH = 10_000


def _lock_for_change(read: Read, expected_version: int | None) -> Read:
    """The read, fetched again and locked for this transaction (submit, amend, notes)."""
    locked = Read.objects.select_for_update(of=("self",)).get(pk=read.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(READ_STALE, code="stale")
    return locked


@transaction.atomic
def read_submit(*, read: Read, actor: AbstractBaseUser, expected_version: int | None) -> Read:
    """Lock a complete read. Refused while any cell is missing."""
    read = _lock_for_change(read, expected_version)
    if read.status == Read.Status.SUBMITTED:
        return read
    if read_missing_cells(read=read):
        raise ValidationError(READ_INCOMPLETE, code="incomplete")
    old = read.status
    read.status = Read.Status.SUBMITTED
    read.submitted_at = timezone.now()
    read.version += 1
    read.save(update_fields=["status", "submitted_at", "version"])
    cohort = read.study.patient.cohort
    audit_record(
        actor=actor, action="read.status", target=read, cohort=cohort, old=old, new=read.status
    )
    results_mark_stale(cohort_id=cohort.pk, read_id=read.pk)
    return read


@transaction.atomic
def read_amend(
    *,
    read: Read,
    changes: list[CellChange],
    actor: AbstractBaseUser,
    reason: str,
    expected_version: int | None,
) -> Read:
    """Change grades of a submitted read; the reason is recorded on every changed cell."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(AMEND_NEEDS_REASON, code="reason")
    locked = _lock_for_change(read, expected_version)
    if locked.status != Read.Status.SUBMITTED:
        raise ValidationError(AMEND_NOT_SUBMITTED)
    cohort = locked.study.patient.cohort
    # Reopen inside the transaction so grades_set accepts the change, then lock again.
    Read.objects.filter(pk=locked.pk).update(status=Read.Status.IN_PROGRESS)
    locked.status = Read.Status.IN_PROGRESS
    updated = grades_set(
        read=locked, changes=changes, actor=actor, expected_version=None, reason=reason
    )
    Read.objects.filter(pk=locked.pk).update(status=Read.Status.SUBMITTED)
    updated.status = Read.Status.SUBMITTED
    audit_record(
        actor=actor,
        action="read.amend",
        target=updated,
        cohort=cohort,
        new=[f"{c.muscle_slug} {c.side} {c.sequence}={c.value}" for c in changes],
        reason=reason,
    )
    return updated


@transaction.atomic
def read_update_notes(
    *,
    read: Read,
    actor: AbstractBaseUser,
    expected_version: int | None,
    note: str | None = None,
    findings: dict[str, dict[str, bool]] | None = None,
) -> Read:
    """Free-text note and region-level yes/no findings (fasciitis, vascular engorgement, ...).

    `findings` maps a region of the protocol to {finding of the protocol: yes/no}; anything
    else (another key, a value that is not a boolean) is refused with FINDING_INVALID."""
    if note is not None:
        _check_note(note)
    read = _lock_for_change(read, expected_version)
    if read.status == Read.Status.SUBMITTED:
        raise ValidationError(READ_LOCKED, code="locked")
    fields = []
    cohort = read.study.patient.cohort
    if note is not None and note != read.note:
        audit_record(
            actor=actor, action="read.note", target=read, cohort=cohort, old=read.note, new=note
        )
        read.note = note
        fields.append("note")
    if findings is not None:
        _check_findings(read, findings)
        if findings != read.findings:
            audit_record(
                actor=actor,
                action="read.findings",
                target=read,
                cohort=cohort,
                old=read.findings,
                new=findings,
            )
            read.findings = findings
            fields.append("findings")
    if fields:
        read.version += 1
        read.save(update_fields=[*fields, "version"])
    return read


def _check_note(note: str) -> None:
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(NOTE_TOO_LONG)
    if "\x00" in note:
        raise ValidationError(TEXT_HAS_NUL)


def _check_findings(read: Read, findings: object) -> None:
    allowed = set(read.protocol.region_findings)
    regions = set(
        Region.objects.filter(groups__muscles__protocols=read.protocol_id).values_list(
            "slug", flat=True
        )
    )
    if not isinstance(findings, dict) or not set(findings) <= regions:
        raise ValidationError(FINDING_INVALID)
    for per_region in findings.values():
        if not isinstance(per_region, dict) or not set(per_region) <= allowed:
            raise ValidationError(FINDING_INVALID)
        if not all(isinstance(value, bool) for value in per_region.values()):
            raise ValidationError(FINDING_INVALID)


def read_add_active_time(*, read: Read, seconds: int) -> None:
    """Add active reading time (the page reports it while the reader is present and working)."""
    seconds = max(0, min(int(seconds), 300))  # one report never claims more than 5 minutes
    if seconds:
        from django.db.models import F

        Read.objects.filter(pk=read.pk).update(active_seconds=F("active_seconds") + seconds)


def read_audit_trail(*, read: Read) -> list[AuditEvent]:
    grade_ids = [str(pk) for pk in Grade.objects.filter(read=read).values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(target_type="scoring.read", target_id=str(read.pk)) | (
        AuditEvent.objects.filter(target_type="scoring.grade", target_id__in=grade_ids)
    )
    return list(events.select_related("actor").order_by("at", "pk"))
