"""The audit trail's one writer. Every service calls it in the same transaction as its change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from .models import AuditEvent, Cohort


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
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        cohort=cohort,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        old=old,
        new=new,
        reason=reason,
    )


def audit_record_many(events: list[AuditEvent]) -> None:
    """Bulk form for services that write many rows at once (imports): still one row per change."""
    AuditEvent.objects.bulk_create(events, batch_size=2000)
