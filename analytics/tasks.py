"""Celery tasks: thin, take ids, safe to run twice (acks late, claims and fingerprints)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError

from iim_scoring.celery import DURABLE_TASK

logger = logging.getLogger(__name__)


@shared_task(
    name="analytics.tasks.recompute_cohort",
    bind=True,
    **DURABLE_TASK,
)
def recompute_cohort(
    self,
    *,
    cohort_id: int,
    parameters: dict | None = None,
    requested_at: str | None = None,  # sent by tasks queued before 0.2; ignored
) -> str:
    """Bring a cohort's stored scores and analyses up to date. With `parameters` (a
    dashboard's filters) it computes that set. While another worker recomputes the cohort it
    waits its turn, so no request is dropped."""
    from .recompute import cohort_analyses_recompute

    outcome = cohort_analyses_recompute(
        cohort_id=cohort_id, parameters=parameters, claim_token=self.request.id or ""
    )
    if outcome == "busy":
        raise self.retry(countdown=1, max_retries=600)
    if outcome == "done" and parameters is None:
        # Then the analyses beyond the paper, in their own task: slower, and nothing a reader
        # or a dashboard filter waits for.
        queue_beyond(cohort_id=cohort_id)
    return outcome


@shared_task(
    name="analytics.tasks.recompute_beyond",
    **DURABLE_TASK,
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


def queue_beyond(*, cohort_id: int) -> None:
    """A broker outage leaves the beyond-the-paper results as they were (their fingerprint
    says from which input); the next recomputation queues them again."""
    try:
        recompute_beyond.apply_async(
            kwargs={"cohort_id": cohort_id}, countdown=settings.ANALYTICS_BEYOND_DELAY_SECONDS
        )
    except (KombuOperationalError, OSError):
        logger.warning("analytics queue unavailable; beyond-the-paper cohort_id=%s", cohort_id)
