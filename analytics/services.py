"""Writes of analytics: marking results stale and storing recomputed scores and analyses.

`results_mark_stale` is the one door through which grades, submissions and clinical data ask
for fresh results: it marks the cohort stale in the caller's transaction and queues the
recomputation after commit. If the broker is unreachable the change still saves; the cohort
stays stale and is queued again by the next change or by `requeue_stale_cohorts`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from .models import CohortAnalyticsState

logger = logging.getLogger(__name__)
_batch = threading.local()


@contextmanager
def results_batch() -> Iterator[None]:
    """Collect stale marks (a seed, an import) and queue one cohort recomputation at the end."""
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
        _queue_recompute(cohort_id=cohort_id, read_id=None)


def results_mark_stale(*, cohort_id: int, read_id: int | None = None) -> None:
    """Mark a cohort's results stale and queue their recomputation once the transaction commits."""
    now = timezone.now()
    updated = CohortAnalyticsState.objects.filter(cohort_id=cohort_id, stale=False).update(
        stale=True, stale_since=now
    )
    if not updated:
        CohortAnalyticsState.objects.get_or_create(
            cohort_id=cohort_id, defaults={"stale": True, "stale_since": now}
        )
    if getattr(_batch, "cohorts", None) is not None:
        _batch.cohorts.add(cohort_id)
        return
    transaction.on_commit(lambda: _queue_recompute(cohort_id=cohort_id, read_id=read_id))


def _queue_recompute(*, cohort_id: int, read_id: int | None) -> None:
    from .tasks import recompute_cohort, recompute_read_scores

    try:
        if read_id is not None:
            recompute_read_scores.apply_async(kwargs={"read_id": read_id})
        recompute_cohort.apply_async(kwargs={"cohort_id": cohort_id}, countdown=1)
    except Exception:  # noqa: BLE001 - a broker outage must never lose the saved change
        logger.warning("analytics queue unavailable; cohort_id=%s stays stale", cohort_id)
