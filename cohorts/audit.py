"""The audit trail's one writer. Every service calls it in the same transaction as its change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from iim_scoring.db.statements import insert_rows

from .models import AuditEvent, Cohort


def audit_event(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    target: models.Model,
    cohort: Cohort | None = None,
    cohort_id: int | None = None,
    old: Any = None,
    new: Any = None,
    reason: str = "",
) -> AuditEvent:
    """One event, not yet stored: who did `action` to `target`, old → new, and why. The cohort
    is given as an instance or, where the caller has only its id, as `cohort_id`."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        cohort_id=cohort.pk if cohort is not None else cohort_id,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        old=old,
        new=new,
        reason=reason,
    )


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    target: models.Model,
    cohort: Cohort | None = None,
    old: Any = None,
    new: Any = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event: who did `action` to `target`, old → new, and why."""
    event = audit_event(
        actor=actor, action=action, target=target, cohort=cohort, old=old, new=new, reason=reason
    )
    event.save(force_insert=True)
    return event


def audit_record_many(events: list[AuditEvent]) -> None:
    """Bulk form for services that write several rows at once: still one row per change.
    Without the ORM's query building (grade saves call this after every keypress)."""
    insert_rows(events)


def audit_redact_erased(*, targets: dict[str, list[str]]) -> int:
    """Empty the old and new values of the events about erased rows (GDPR Art. 17).

    The one sanctioned change to the trail: who did what and when stays, the values of a
    patient who asked to be erased do not. `targets` maps a target type ("scoring.grade") to
    the erased ids. Returns the number of events redacted."""
    redacted = 0
    for target_type, ids in targets.items():
        if not ids:
            continue
        events = AuditEvent.objects.filter(target_type=target_type, target_id__in=ids)
        # AuditQuerySet refuses update(); erasure goes around it on purpose, here only.
        redacted += models.QuerySet.update(events, old=None, new=None)
    return redacted
