"""Each role lands on its own work and cannot reach the others' pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PASSWORD


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_login_page_is_served_to_anonymous_users(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content


@pytest.mark.django_db
def test_anonymous_user_is_sent_to_login_from_every_page(client, cohort):
    for url in [
        reverse("home"),
        reverse("scoring:worklist"),
        reverse("cohorts:cohort-list"),
        reverse("cohorts:cohort-detail", args=[cohort.slug]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.django_db
def test_radiologist_logs_in_and_lands_on_reading(client, radiologist):
    response = client.post(
        reverse("login"), {"username": "radiologist", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert b'id="role-radiologist"' in response.content
    assert b'id="role-clinician"' not in response.content


@pytest.mark.django_db
def test_radiologist_cannot_open_cohort_pages(client, radiologist, cohort):
    _client_for(client, radiologist)
    assert client.get(reverse("cohorts:cohort-list")).status_code == 403
    assert client.get(reverse("cohorts:cohort-detail", args=[cohort.slug])).status_code == 403


@pytest.mark.django_db
def test_clinician_cannot_open_the_worklist(client, clinician):
    _client_for(client, clinician)
    assert client.get(reverse("scoring:worklist")).status_code == 403


@pytest.mark.django_db
def test_statistician_cannot_open_the_worklist_or_admin(client, statistician):
    _client_for(client, statistician)
    assert client.get(reverse("scoring:worklist")).status_code == 403
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
def test_clinician_of_one_cohort_gets_404_for_another_cohort(client, clinician):
    from tests.factories import CohortFactory

    other = CohortFactory(slug="other-study")
    _client_for(client, clinician)
    assert client.get(reverse("cohorts:cohort-detail", args=[other.slug])).status_code == 404


@pytest.mark.django_db
def test_coordinator_reaches_the_admin_for_the_atlas(client, coordinator):
    _client_for(client, coordinator)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:scoring_muscle_changelist")).status_code == 200
    assert client.get(reverse("admin:cohorts_auditevent_changelist")).status_code == 200


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account(client, radiologist):
    for _ in range(5):
        client.post(reverse("login"), {"username": "radiologist", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "radiologist", "password": PASSWORD})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
