"""How grade changes ask for fresh results: one waiting task per cohort, none dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import services
from analytics.models import CohortAnalyticsState
from analytics.recompute import cohort_analyses_recompute

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:  # noqa: ANN001
    """The cohorts whose recomputation was put on the queue, in order (no broker)."""
    calls: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda cohort_id: calls.append(cohort_id) or True)
    return calls


def _change(cohort_id: int, capture) -> None:  # noqa: ANN001
    with capture(execute=True):
        services.results_mark_stale(cohort_id=cohort_id)


def test_a_burst_of_changes_queues_one_recomputation(
    cohort, queued, django_capture_on_commit_callbacks
):  # noqa: ANN001
    for _ in range(5):
        _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk]
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert state.stale and state.queued_at is not None


def test_a_change_after_the_task_claimed_the_cohort_queues_the_next_one(
    cohort, queued, django_capture_on_commit_callbacks
):  # noqa: ANN001
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert cohort_analyses_recompute(cohort_id=cohort.pk) == "empty"  # no patients yet
    assert CohortAnalyticsState.objects.get(cohort=cohort).queued_at is None
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk, cohort.pk]


def test_a_task_queued_long_ago_and_never_started_no_longer_holds_changes_back(
    cohort, queued, django_capture_on_commit_callbacks
):  # noqa: ANN001
    _change(cohort.pk, django_capture_on_commit_callbacks)
    CohortAnalyticsState.objects.filter(cohort=cohort).update(
        queued_at=timezone.now() - services.QUEUED_TASK_LOST_AFTER - timedelta(seconds=1)
    )
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk, cohort.pk]


def test_a_refused_queue_leaves_the_cohort_stale_and_lets_the_next_change_try_again(
    cohort, monkeypatch, django_capture_on_commit_callbacks
):  # noqa: ANN001
    from analytics import tasks

    def broker_down(**kwargs) -> None:  # noqa: ANN003
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.recompute_cohort, "apply_async", broker_down)
    _change(cohort.pk, django_capture_on_commit_callbacks)
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert state.stale and state.queue_failed and state.queued_at is None
    attempts = []
    monkeypatch.setattr(
        tasks.recompute_cohort, "apply_async", lambda **kwargs: attempts.append(kwargs)
    )
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert len(attempts) == 1
    assert not CohortAnalyticsState.objects.get(cohort=cohort).queue_failed


def test_a_cohort_without_patients_recomputes_to_fresh_without_error(cohort):  # noqa: ANN001
    assert cohort_analyses_recompute(cohort_id=cohort.pk) == "empty"
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert not state.stale and state.last_error == "" and not state.recomputing
