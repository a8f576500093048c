"""The app runs on real services: Postgres migrations, a Celery worker over Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.services import postgres_server_url

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def test_app_boots_and_migrates_on_a_fresh_postgres_database():
    base = postgres_server_url()
    import psycopg

    name = f"iim_boot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_server_url(name)
        env = {**os.environ, "DATABASE_URL": url}
        env.pop("CELERY_BROKER_URL", None)
        for args in (["migrate", "--noinput"], ["check"]):
            result = subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stderr[-3000:]
        count = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from scoring.models import Muscle; print('muscles', Muscle.objects.count())",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "muscles 60" in count.stdout, count.stderr[-2000:]
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_executes_a_task_end_to_end(celery_worker_process):
    from iim_scoring.celery import ping

    result = ping.apply_async(kwargs={"value": "hello worker"})
    assert result.get(timeout=60) == "hello worker"
    assert "iim_scoring.ping" in celery_worker_process.log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_recomputes_a_cohort_in_the_shared_database(celery_worker_process):
    from analytics.models import AnalysisResult
    from analytics.tasks import recompute_cohort
    from tests.factories import AssessmentFactory, CohortFactory, PatientFactory

    cohort = CohortFactory()
    for i in range(3):
        AssessmentFactory(patient=PatientFactory(cohort=cohort, pseudonym=f"IIM-90{i}"))
    recompute_cohort.apply_async(kwargs={"cohort_id": cohort.pk}).get(timeout=120)
    table = AnalysisResult.objects.get(cohort=cohort, analysis="descriptives")
    assert table.status == "done"
    n_all = [
        row["value"]
        for row in table.result["table"]
        if row["variable"] == "patients" and row["subtype"] == "all"
    ]
    assert n_all == [3]


@pytest.mark.django_db(transaction=True)
def test_coordinators_see_which_workers_answer(celery_worker_process, settings):
    from iim_scoring.health import check_workers
    from tests.integration.conftest import wait_for

    settings.CELERY_TASK_ALWAYS_EAGER = False
    check = wait_for(lambda: (c := check_workers()).ok and c, what="a worker to answer a ping")
    assert "1 worker(s) answer" in check.detail and "tasks waiting in the queue" in check.detail
    celery_worker_process.kill()
    check = wait_for(lambda: not (c := check_workers()).ok and c, what="the worker to be gone")
    assert "no Celery worker answers" in check.detail


@pytest.mark.django_db
def test_the_waiting_count_includes_the_recomputations_own_queue(broker_queue, settings):
    import redis

    from iim_scoring.health import check_workers

    broker, queue = broker_queue
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.ANALYTICS_QUEUE = f"{queue}-analytics"
    client = redis.Redis.from_url(broker)
    client.rpush(queue, "an import")
    client.rpush(settings.ANALYTICS_QUEUE, "a recomputation", "another")
    try:
        check = check_workers(timeout=0.2)  # no worker runs: nothing takes them
    finally:
        client.delete(queue, settings.ANALYTICS_QUEUE)
    assert "3 tasks waiting in the queue" in check.detail
