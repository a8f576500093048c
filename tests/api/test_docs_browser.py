"""Swagger UI and ReDoc render in Chromium from the site's own files, under the site's CSP.

Every request the browser makes is answered by Django's test client (static files by the
staticfiles finders); a request to any other host is recorded and refused, so a CDN
dependency fails the test, and a CSP violation shows up in the console.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.api.conftest import body

# The docs and the schema are public and need no database: the route handlers run in
# Playwright's greenlet, where a test database connection would not be the test's own.
pytestmark = pytest.mark.browser
SITE = "http://testserver"


def _serve(client: Client, foreign: list[str]):
    def handle(route, request) -> None:
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" != SITE:
            foreign.append(request.url)
            route.abort()
            return
        if url.path.startswith("/static/"):
            path = finders.find(url.path.removeprefix("/static/"))
            if path is None:
                route.fulfill(status=404, body="")
                return
            with open(path, "rb") as handle_:
                content = handle_.read()
            kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
            route.fulfill(status=200, body=content, headers={"Content-Type": kind})
            return
        target = url.path + (f"?{url.query}" if url.query else "")
        response = client.generic(
            request.method, target, HTTP_ACCEPT=request.headers.get("accept", "*/*")
        )
        route.fulfill(
            status=response.status_code, headers=dict(response.items()), body=body(response)
        )

    return handle


@pytest.fixture
def docs_page(browser):
    client = Client()
    foreign: list[str] = []
    console: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.route("**/*", _serve(client, foreign))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    yield page, foreign, console
    context.close()


def test_swagger_ui_renders_the_schema_offline_under_the_csp(docs_page):
    page, foreign, console = docs_page
    page.goto(f"{SITE}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 20
    assert "export" in page.content()
    assert foreign == []
    assert not [m for m in console if "Content Security Policy" in m], console


def test_redoc_renders_the_schema_offline_under_the_csp(docs_page):
    page, foreign, console = docs_page
    page.goto(f"{SITE}/api/redoc/")
    page.wait_for_selector("h1:has-text('iim-scoring API')", timeout=20_000)
    assert page.get_by_text("Grades, long").count() > 0
    assert foreign == []
    # ReDoc's sidebar footer always tries Redocly's logo from their CDN: the CSP (img-src
    # 'self') blocks it before any request leaves the browser. Nothing else may be blocked.
    blocked = [m for m in console if "Content Security Policy" in m]
    assert all(REDOCLY_LOGO in m and "img-src" in m for m in blocked), blocked


REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
