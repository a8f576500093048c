"""Idle users are signed out: every request extends the session by SESSION_COOKIE_AGE (30
minutes by default), and a session left idle longer no longer opens a page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_each_request_extends_the_session_and_an_idle_one_expires(client, clinician):
    client.force_login(clinician)
    session = Session.objects.get(session_key=client.session.session_key)
    # As if the user had been idle for just under the limit: a request slides it forward.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get("/cohorts/").status_code == 200
    extended = Session.objects.get(pk=session.pk).expire_date
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((extended - expected).total_seconds()) < 60
    # Idle past the limit: the next page asks for the password again.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/cohorts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_idle_limit_is_thirty_minutes_unless_configured():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_the_viewers_image_fetches_neither_write_nor_extend_the_session(client, radiologist):
    """Hundreds of images are fetched ahead of the reader: no session write for each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from cohorts.imaging.ingest import dicom_import
    from cohorts.models import Instance
    from scoring.blinding import image_token
    from scoring.models import ScoringProtocol
    from scoring.services import read_assign
    from tests import factories
    from tests.dicom_import.whole_body import files_of, station

    patient = factories.PatientFactory(source_key="s" * 64)
    dicom_import(
        cohort=patient.cohort, files=files_of(station("s", 0, 2)), actor=None, patient=patient
    )
    read = read_assign(
        study=patient.studies.get(),
        protocol=ScoringProtocol.objects.get(slug="whole-body-iim"),
        reader=radiologist,
        actor=None,
    )
    client.force_login(radiologist)
    session = Session.objects.get(session_key=client.session.session_key)
    soon = timezone.now() + timedelta(minutes=1)
    Session.objects.filter(pk=session.pk).update(expire_date=soon)
    instance = Instance.objects.first()
    url = reverse(
        "scoring:read-image", args=[read.token, image_token(read=read, instance_id=instance.pk)]
    )
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert not [
        q for q in queries.captured_queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]
    ]
    assert Session.objects.get(pk=session.pk).expire_date == soon
    # The read page itself still extends it.
    assert client.get(reverse("scoring:read", args=[read.token])).status_code == 200
    assert Session.objects.get(pk=session.pk).expire_date > soon
