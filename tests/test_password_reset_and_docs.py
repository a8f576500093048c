"""Password reset works with configured mail or is not offered; the API schema and docs need a
login where API_DOCS_REQUIRE_LOGIN is on (the production default) (issue 22, item 6)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_without_mail_the_login_page_offers_no_reset_and_the_reset_pages_are_gone(client, settings):
    settings.PASSWORD_RESET_ENABLED = False
    login = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") not in login
    assert "Ask your study coordinator" in login
    assert client.get(reverse("password_reset")).status_code == 404
    response = client.post(reverse("password_reset"), {"email": "someone@example.org"})
    assert response.status_code == 404
    assert mail.outbox == []


def test_with_mail_a_reset_link_is_sent_and_sets_a_new_password(client, settings):
    settings.PASSWORD_RESET_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = factories.user_with_role("clinician", username="carla")
    user.email = "carla@example.org"
    user.save(update_fields=["email"])
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    response = client.post(reverse("password_reset"), {"email": "carla@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carla@example.org"]
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Set a new password" in form.content.decode()
    new = "a-long-new-passphrase-41"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_the_schema_and_docs_need_a_login_when_required(client, settings, url):
    settings.API_DOCS_REQUIRE_LOGIN = True
    assert client.get(url).status_code in (401, 403)
    client.force_login(factories.user_with_role("statistician", username="stats"))
    assert client.get(url).status_code == 200


def test_the_schema_is_open_in_development(client, settings):
    settings.API_DOCS_REQUIRE_LOGIN = False
    assert client.get("/api/schema/").status_code == 200


def test_production_requires_a_login_for_the_docs_by_default():
    from iim_scoring import settings as project_settings

    # The flag's default follows DJANGO_ENV; tests run in development.
    assert project_settings.API_DOCS_REQUIRE_LOGIN == project_settings.PRODUCTION
