"""How grade changes ask for fresh results: one waiting task per cohort, none dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import services
from analytics.models import CohortAnalyticsState
from analytics.recompute import cohort_analyses_recompute

pytestmark = pytest.mark.django_db


class Queued(list):
    """The cohorts whose recomputation was put on the queue, in order, and each one's delay."""

    def __init__(self) -> None:
        super().__init__()
        self.countdowns: list[float] = []

    def __call__(self, cohort_id: int, countdown: float | None = None) -> bool:
        self.append(cohort_id)
        self.countdowns.append(countdown)
        return True


@pytest.fixture
def queued(monkeypatch) -> Queued:
    calls = Queued()
    monkeypatch.setattr(services, "_queue", calls)
    return calls


def _change(cohort_id: int, capture) -> None:
    with capture(execute=True):
        services.results_mark_stale(cohort_id=cohort_id)


def test_a_burst_of_changes_queues_one_recomputation(
    cohort, queued, django_capture_on_commit_callbacks
):
    for _ in range(5):
        _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk]
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert state.stale and state.queued_at is not None


def test_a_change_after_the_task_claimed_the_cohort_queues_the_next_one(
    cohort, queued, django_capture_on_commit_callbacks
):
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert cohort_analyses_recompute(cohort_id=cohort.pk) == "empty"  # no patients yet
    assert CohortAnalyticsState.objects.get(cohort=cohort).queued_at is None
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk, cohort.pk]


def test_a_lone_change_waits_the_debounce_and_a_busy_cohort_the_minimum_interval(
    cohort, queued, settings, django_capture_on_commit_callbacks
):
    settings.ANALYTICS_DEBOUNCE_SECONDS = 0.25
    settings.ANALYTICS_MIN_INTERVAL_SECONDS = 5.0
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued.countdowns == [0.25]  # never recomputed: only the debounce
    assert cohort_analyses_recompute(cohort_id=cohort.pk) == "empty"
    _change(cohort.pk, django_capture_on_commit_callbacks)
    # Recomputed a moment ago: the next one starts about 5 s after that one did.
    assert 4.0 < queued.countdowns[1] <= 5.0
    CohortAnalyticsState.objects.filter(cohort=cohort).update(
        queued_at=None, claimed_at=timezone.now() - timedelta(seconds=60)
    )
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued.countdowns[2] == 0.25  # long idle: the debounce again


def test_a_task_queued_long_ago_and_never_started_no_longer_holds_changes_back(
    cohort, queued, django_capture_on_commit_callbacks
):
    _change(cohort.pk, django_capture_on_commit_callbacks)
    CohortAnalyticsState.objects.filter(cohort=cohort).update(
        queued_at=timezone.now() - services.QUEUED_TASK_LOST_AFTER - timedelta(seconds=1)
    )
    _change(cohort.pk, django_capture_on_commit_callbacks)
    assert queued == [cohort.pk, cohort.pk]


def test_a_refused_queue_leaves_the_cohort_stale_and_lets_the_next_change_try_again(
    cohort, monkeypatch, django_capture_on_commit_callbacks
):
    from analytics import tasks

    def broker_down(**kwargs) -> None:
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


def test_a_cohort_without_patients_recomputes_to_fresh_without_error(cohort):
    assert cohort_analyses_recompute(cohort_id=cohort.pk) == "empty"
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert not state.stale and state.last_error == "" and not state.recomputing
