"""Celery tasks: thin, take ids, safe to run twice (acks late, claims and fingerprints)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import OperationalError


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_cohort(self, *, cohort_id: int, requested_at: str | None = None) -> str:  # noqa: ANN001
    """Bring a cohort's stored scores and analyses up to date (debounced: a newer request
    supersedes this one)."""
    from .recompute import cohort_analyses_recompute

    requested = datetime.fromisoformat(requested_at) if requested_at else None
    return cohort_analyses_recompute(
        cohort_id=cohort_id, requested_at=requested, claim_token=self.request.id or ""
    )


@shared_task(name="analytics.tasks.requeue_stale")
def requeue_stale() -> int:
    from .services import requeue_stale_cohorts

    return requeue_stale_cohorts()
