"""403, 404 and 500 pages in the app's style in every mode, the demo's DEBUG mode included, and
a favicon (issue 22, item 7): the probe saw Django's debug 404 listing every URL pattern."""

from __future__ import annotations

import pytest
from django.http import HttpResponseNotFound, HttpResponseServerError, JsonResponse
from django.test import RequestFactory

from iim_scoring.api.guards import ErrorPagesMiddleware

pytestmark = pytest.mark.django_db


def _is_app_page(html: str, status: int) -> bool:
    return f'data-status="{status}"' in html and "css/app.css" in html and "favicon.svg" in html


def test_an_unknown_address_is_the_apps_404_without_debug(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert _is_app_page(response.content.decode(), 404)


def test_an_unknown_address_is_the_apps_404_with_debug_on_and_lists_no_urls(client, settings):
    settings.DEBUG = True
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert _is_app_page(html, 404)
    assert "URLconf" not in html and "reading/" not in html


def test_a_forbidden_page_is_the_apps_403(client, radiologist):
    client.force_login(radiologist)
    response = client.get("/cohorts/")
    assert response.status_code == 403
    html = response.content.decode()
    assert _is_app_page(html, 403)
    assert "radiologist" in html  # the signed-in user's top bar is there


def test_the_500_page_is_the_apps_even_with_debug_on(settings):
    settings.DEBUG = True
    request = RequestFactory().get("/somewhere/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    middleware = ErrorPagesMiddleware(lambda r: HttpResponseServerError("<h1>Traceback…</h1>"))
    response = middleware(request)
    assert response.status_code == 500
    assert _is_app_page(response.content.decode(), 500)


def test_the_500_template_renders_without_a_request():
    from django.template.loader import render_to_string

    assert _is_app_page(render_to_string("500.html"), 500)


def test_json_errors_of_the_api_are_left_as_they_are(settings):
    settings.DEBUG = True
    request = RequestFactory().get("/api/v1/x/")
    body = JsonResponse({"detail": "Not found."}, status=404)
    assert ErrorPagesMiddleware(lambda r: body)(request) is body
    page = HttpResponseNotFound("<h1>Not Found</h1>")
    settings.DEBUG_ERROR_PAGES = True
    assert ErrorPagesMiddleware(lambda r: page)(request) is page


def test_every_page_names_the_favicon_and_it_is_served(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in html and "favicon.svg" in html
    from django.contrib.staticfiles import finders

    assert finders.find("favicon.svg")
