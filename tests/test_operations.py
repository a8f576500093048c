"""Operations: /healthz answers for load balancers, `manage.py doctor` names problems."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):  # noqa: ANN001
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"


def test_healthz_says_503_when_the_broker_is_unreachable(client, settings):  # noqa: ANN001
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


def test_doctor_names_development_secrets_in_plain_words(capsys):  # noqa: ANN001
    with pytest.raises(CommandError):
        call_command("doctor")
    out = capsys.readouterr().out
    assert "SECRET_KEY is the development default" in out
    assert "database" in out and "ok" in out


def test_data_protection_page_is_for_coordinators_only(client, coordinator, clinician):  # noqa: ANN001
    client.force_login(clinician)
    assert client.get("/data-protection/").status_code == 403
    client.force_login(coordinator)
    response = client.get("/data-protection/")
    assert response.status_code == 200 and b"HMAC-SHA256" in response.content
