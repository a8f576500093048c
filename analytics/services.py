"""Writes of analytics: marking results stale and queueing their recomputation.

`results_mark_stale` is the one door through which grades, submissions and clinical data ask
for fresh results. After the caller's transaction commits it records the request on the
cohort's state row and queues a recomputation unless one is already waiting to start: a burst
of saves shares one task, which reads everything committed before it claims the cohort. If the
broker is unreachable the change is still saved: the cohort stays stale, the page says so, and
`requeue_stale_cohorts` (Celery beat, and every dashboard visit) queues it again once the
broker is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from iim_scoring.db.statements import analytics_state_request

from .models import CohortAnalyticsState

logger = logging.getLogger(__name__)
# A queued recomputation that has not started after this long is taken for lost.
QUEUED_TASK_LOST_AFTER = timedelta(minutes=2)
_batch = threading.local()


@contextmanager
def results_batch() -> Iterator[None]:
    """Collect stale marks (a seed, an import) and request one recomputation at the end."""
    if getattr(_batch, "cohorts", None) is not None:
        yield
        return
    _batch.cohorts = set()
    try:
        yield
        cohorts = _batch.cohorts
    finally:
        _batch.cohorts = None
    for cohort_id in sorted(cohorts):
        _request_recompute(cohort_id)


def results_mark_stale(*, cohort_id: int, read_id: int | None = None) -> None:
    """Ask for fresh results of a cohort once the current transaction commits.

    `read_id` names the read that changed (kept for the log; the recomputation finds every
    read whose stored scores are out of date by its fingerprint).
    """
    if getattr(_batch, "cohorts", None) is not None:
        _batch.cohorts.add(cohort_id)
        return
    # After commit, in autocommit: concurrent readers never queue on the state row's lock.
    transaction.on_commit(lambda: _request_recompute(cohort_id))


def results_forget_patient(*, cohort_id: int, patient_id: int, read_ids: list[int]) -> int:
    """Remove an erased patient from what analytics stores, now, inside the erasure's
    transaction, rather than when the recomputation it asks for has run: the scores of their
    reads (`read_ids`) and their per-patient rows go, and so do the results beyond the paper
    (they name patients; recomputed after). The other results are aggregates; their heads are
    touched so that no dashboard figure built from the rows before (and cached) is served
    again. Returns the per-patient rows removed."""
    from .models import AnalysisResult, PatientScoreRow, ReadScores
    from .recompute import BEYOND_ANALYSIS

    ReadScores.objects.filter(read_id__in=read_ids).delete()

    removed, _ = PatientScoreRow.objects.filter(
        result__cohort_id=cohort_id, row__patient_id=patient_id
    ).delete()
    results = AnalysisResult.objects.filter(cohort_id=cohort_id)
    results.filter(analysis=BEYOND_ANALYSIS).delete()
    results.update(updated_at=timezone.now())
    results_mark_stale(cohort_id=cohort_id)
    return removed


def _request_recompute(cohort_id: int) -> None:
    """Record the request on the cohort's state row and queue a task unless one is waiting.

    One statement (this runs after every grade save): create the state row, or mark it stale
    and claim the queueing, but only while no task is waiting to start. A waiting task reads
    everything committed before it claims the cohort, so a request that finds one changes
    nothing. A task queued long ago and never started (lost with its worker's queue) no longer
    counts as waiting. `queue_failed` is cleared with the claim and set again if the broker
    refuses the task."""
    now = timezone.now()
    requested = CohortAnalyticsState(
        cohort_id=cohort_id, stale=True, stale_since=now, requested_at=now, queued_at=now
    )
    claimed = analytics_state_request(requested, lost_before=now - QUEUED_TASK_LOST_AFTER)
    if claimed is not None:
        _queue(cohort_id, countdown=_countdown(claimed[0], now))


def _countdown(last_started: datetime | None, now: datetime) -> float:
    """The debounce, stretched so that the cohort's recomputations start at least
    ANALYTICS_MIN_INTERVAL_SECONDS apart (`last_started`: when the latest one claimed it)."""
    debounce = settings.ANALYTICS_DEBOUNCE_SECONDS
    if last_started is None:
        return debounce
    wait = settings.ANALYTICS_MIN_INTERVAL_SECONDS - (now - last_started).total_seconds()
    return max(debounce, wait)


def _queue(cohort_id: int, countdown: float | None = None) -> bool:
    from .tasks import recompute_cohort

    try:
        recompute_cohort.apply_async(
            kwargs={"cohort_id": cohort_id},
            countdown=settings.ANALYTICS_DEBOUNCE_SECONDS if countdown is None else countdown,
        )
    except Exception:  # a broker outage must never lose the saved change
        logger.warning("analytics queue unavailable; cohort_id=%s stays stale", cohort_id)
        CohortAnalyticsState.objects.filter(cohort_id=cohort_id).update(
            queue_failed=True, queued_at=None
        )
        return False
    return True


def requeue_stale_cohorts(*, older_than_seconds: float = 30.0) -> int:
    """Queue every cohort that is stale and whose last request could not be queued or has
    waited longer than `older_than_seconds` (lost task, broker outage). Returns how many."""
    limit = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = CohortAnalyticsState.objects.filter(stale=True, recomputing=False).filter(
        Q(queue_failed=True) | Q(requested_at__lt=limit) | Q(requested_at__isnull=True)
    )
    queued = 0
    for state in waiting:
        CohortAnalyticsState.objects.filter(pk=state.pk).update(
            requested_at=timezone.now(), queued_at=timezone.now(), queue_failed=False
        )
        queued += _queue(state.pk)
    return queued


def request_parameter_set(*, cohort_id: int, parameters: dict) -> bool:
    """Queue the computation of one dashboard filter set (runs after the cohort's own)."""
    from .tasks import recompute_cohort

    try:
        recompute_cohort.apply_async(kwargs={"cohort_id": cohort_id, "parameters": parameters})
    except Exception:  # the page shows "computing" and asks again
        logger.warning("analytics queue unavailable for a filter set; cohort_id=%s", cohort_id)
        return False
    return True
