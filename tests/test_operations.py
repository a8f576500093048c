"""Operations: /healthz answers for load balancers, `manage.py doctor` names problems."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests import factories

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"


def test_healthz_says_503_when_the_broker_is_unreachable(client, settings):
    from iim_scoring.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert "cannot reach the Celery broker" in response.json()["broker"]


def test_doctor_names_development_secrets_in_plain_words(capsys):
    with pytest.raises(CommandError):
        call_command("doctor")
    out = capsys.readouterr().out
    assert "SECRET_KEY is the development default" in out
    assert "database" in out and "ok" in out


def test_data_protection_page_is_for_coordinators_only(client, coordinator, clinician):
    client.force_login(clinician)
    assert client.get("/data-protection/").status_code == 403
    client.force_login(coordinator)
    response = client.get("/data-protection/")
    assert response.status_code == 200 and b"HMAC-SHA256" in response.content


def test_background_work_page_shows_each_cohorts_recomputation_and_imports(
    client, coordinator, cohort
):
    from django.utils import timezone

    from analytics.models import CohortAnalyticsState
    from cohorts.models import DicomImportJob

    CohortAnalyticsState.objects.create(
        cohort=cohort, stale=True, stale_since=timezone.now(), last_error="ValueError: boom"
    )
    DicomImportJob.objects.create(
        cohort=cohort, created_by=coordinator, status="failed", error="disk full"
    )
    other = CohortAnalyticsState.objects.create(cohort=factories.CohortFactory(), stale=False)
    client.force_login(coordinator)
    response = client.get("/operations/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="work-{cohort.slug}"' in page
    assert "stale" in page and "Last recomputation failed: ValueError: boom" in page
    assert "disk full" in page
    assert f'id="work-{other.cohort.slug}"' not in page  # not this coordinator's cohort
    assert "tasks run in-process" in page  # the embedded default has no workers to ask


@pytest.mark.parametrize("role", ["clinician", "statistician", "radiologist"])
def test_background_work_page_is_for_coordinators_only(client, role, request):
    client.force_login(request.getfixturevalue(role))
    assert client.get("/operations/").status_code == 403
