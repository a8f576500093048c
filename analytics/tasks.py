"""Celery tasks: thin, take ids, safe to run twice (acks late, fingerprints skip unchanged work)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_read_scores(*, read_id: int) -> None:
    from .recompute import read_scores_recompute

    read_scores_recompute(read_id=read_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_cohort(*, cohort_id: int) -> None:
    from .recompute import cohort_analyses_recompute

    cohort_analyses_recompute(cohort_id=cohort_id)
