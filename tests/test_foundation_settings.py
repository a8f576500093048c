"""Settings modes: embedded default, services, production refusing weak configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STRONG = "k" * 20 + "Q9z!x-7Yw_3Vb" + "p" * 30


def _run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CELERY_QUEUE",
            "ANALYTICS_QUEUE",
            "DJANGO_ENV",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "PSEUDONYM_PEPPER",
            "DICOM_UID_SECRET",
            "DEBUG",
            # Set by the browser tests for Playwright's event loop; never in a deployment.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _run_manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="iim.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_secret_key():
    result = _run_manage(
        "check",
        DJANGO_ENV="production",
        ALLOWED_HOSTS="iim.example.org",
        SECRET_KEY="django-insecure-iim-scoring-embedded-default-never-use-in-production",
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_check_deploy_prints_no_warnings():
    result = _run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        DJANGO_ENV="production",
        SECRET_KEY=STRONG,
        PSEUDONYM_PEPPER="p" * 16 + "epper-for-tests-000000",
        DICOM_UID_SECRET="u" * 16 + "id-secret-for-tests-0000",
        ALLOWED_HOSTS="iim.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_embedded_default_uses_the_projects_postgres_eager_tasks_and_debug():
    code = (
        "from django.conf import settings as s; from django.db import connection as c; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'], "
        "c.cursor().connection.info.server_version // 10000, s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
    )
    result = _run_manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    # PostgreSQL 18 from the wheel, on a socket in the project's git-ignored .postgres folder.
    assert result.stdout.split()[-5:] == [
        "django.db.backends.postgresql",
        str(REPO / ".postgres"),
        "18",
        "True",
        "True",
    ]


def test_production_refuses_to_start_without_a_database_url():
    result = _run_manage(
        "check",
        DJANGO_ENV="production",
        SECRET_KEY=STRONG,
        PSEUDONYM_PEPPER="p" * 16 + "epper-for-tests-000000",
        DICOM_UID_SECRET="u" * 16 + "id-secret-for-tests-0000",
        ALLOWED_HOSTS="iim.example.org",
    )
    assert result.returncode != 0
    assert "DATABASE_URL must name the Postgres server in production" in result.stderr


def test_a_database_url_of_another_engine_is_refused():
    result = _run_manage("check", DATABASE_URL="mysql://u@127.0.0.1:3306/x")
    assert result.returncode != 0
    assert "DATABASE_URL must name a Postgres database" in result.stderr


def test_service_urls_switch_to_postgres_and_a_real_broker_without_debug():
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
    )
    result = _run_manage(
        "shell",
        "-c",
        code,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["django.db.backends.postgresql", "False", "False"]


def test_a_malformed_database_url_fails_loudly():
    result = _run_manage("check", DATABASE_URL="nonsense://what")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr or "Invalid" in result.stderr


ROUTES_SCRIPT = (
    "from iim_scoring.celery import app; route = app.amqp.router.route; "
    "print(*(route({}, name)['queue'].name for name in ("
    "'analytics.tasks.recompute_cohort', 'analytics.tasks.recompute_beyond', "
    "'cohorts.tasks.run_dicom_import_job')))"
)


def test_cohort_recomputations_go_to_the_analytics_queue_when_one_is_configured():
    separate = _run_manage("shell", "-v", "0", "-c", ROUTES_SCRIPT, ANALYTICS_QUEUE="analytics")
    assert separate.returncode == 0, separate.stderr
    # Recomputations to the single-process analytics worker; slow work stays on the others.
    assert separate.stdout.split() == ["analytics", "celery", "celery"]
    for unset in ({}, {"ANALYTICS_QUEUE": ""}):  # as copied from .env.example: empty
        shared = _run_manage("shell", "-v", "0", "-c", ROUTES_SCRIPT, **unset)
        assert shared.returncode == 0, shared.stderr
        assert shared.stdout.split() == ["celery", "celery", "celery"]
