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
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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


def _request_recompute(cohort_id: int) -> None:
    now = timezone.now()
    marked = CohortAnalyticsState.objects.filter(cohort_id=cohort_id).update(
        stale=True, requested_at=now, stale_since=Coalesce(F("stale_since"), Value(now))
    )
    if not marked:
        CohortAnalyticsState.objects.get_or_create(
            cohort_id=cohort_id, defaults={"stale": True, "requested_at": now, "stale_since": now}
        )
    # One waiting task per cohort: a burst of grade saves queues one recomputation, which
    # reads everything committed before it claims the cohort. A task queued long ago and never
    # started (lost with its worker's queue) no longer counts as waiting.
    claimed = (
        CohortAnalyticsState.objects.filter(cohort_id=cohort_id)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - QUEUED_TASK_LOST_AFTER))
        .update(queued_at=now)
    )
    if claimed:
        _queue(cohort_id)


def _queue(cohort_id: int) -> bool:
    from .tasks import recompute_cohort

    try:
        recompute_cohort.apply_async(
            kwargs={"cohort_id": cohort_id}, countdown=settings.ANALYTICS_DEBOUNCE_SECONDS
        )
    except Exception:  # noqa: BLE001 - a broker outage must never lose the saved change
        logger.warning("analytics queue unavailable; cohort_id=%s stays stale", cohort_id)
        CohortAnalyticsState.objects.filter(cohort_id=cohort_id).update(
            queue_failed=True, queued_at=None
        )
        return False
    CohortAnalyticsState.objects.filter(cohort_id=cohort_id, queue_failed=True).update(
        queue_failed=False
    )
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
            requested_at=timezone.now(), queued_at=timezone.now()
        )
        queued += _queue(state.pk)
    return queued


def request_parameter_set(*, cohort_id: int, parameters: dict) -> bool:
    """Queue the computation of one dashboard filter set (runs after the cohort's own)."""
    from .tasks import recompute_cohort

    try:
        recompute_cohort.apply_async(kwargs={"cohort_id": cohort_id, "parameters": parameters})
    except Exception:  # noqa: BLE001 - the page shows "computing" and asks again
        logger.warning("analytics queue unavailable for a filter set; cohort_id=%s", cohort_id)
        return False
    return True
