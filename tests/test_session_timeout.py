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
