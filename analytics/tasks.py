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
def recompute_cohort(
    self,  # noqa: ANN001
    *,
    cohort_id: int,
    requested_at: str | None = None,
    parameters: dict | None = None,
) -> str:
    """Bring a cohort's stored scores and analyses up to date (debounced: a newer request
    supersedes this one). With `parameters` (a dashboard's filters) it computes that set and
    waits its turn while the cohort's main recomputation runs."""
    from .recompute import cohort_analyses_recompute

    requested = datetime.fromisoformat(requested_at) if requested_at else None
    outcome = cohort_analyses_recompute(
        cohort_id=cohort_id,
        requested_at=requested,
        parameters=parameters,
        claim_token=self.request.id or "",
    )
    if outcome == "busy" and parameters is not None:
        raise self.retry(countdown=2, max_retries=60)
    return outcome


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_beyond(*, cohort_id: int) -> str:
    """Agreement, asymmetry, change over time and patterns for the cohort's current input
    (skipped when stored already for it)."""
    from .beyond import cohort_beyond_recompute

    return cohort_beyond_recompute(cohort_id=cohort_id)


@shared_task(name="analytics.tasks.requeue_stale")
def requeue_stale() -> int:
    from .services import requeue_stale_cohorts

    return requeue_stale_cohorts()
