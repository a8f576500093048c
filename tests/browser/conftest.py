"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Shared by every browser test module (agreed names: `browser_page`, `login`): one Chromium per
session, a fresh 1400×900 page in a fresh context per test, `login(page, live_server, username)`
and pytest-django's live server on the test database. Fixtures of one module
belong in that module, or in a delimited block below.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.factories import PASSWORD

# Playwright's sync API keeps an event loop running in the test thread; Django's ORM calls made
# by the test itself (fixtures, assertions on the database) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="session")
def live_server(request, django_db_setup) -> Iterator[object]:
    """pytest-django's live server.

    It depends on `django_db_setup` so that it starts on the test database: created before it,
    it would see the settings of the development database.
    """
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr)
    yield server
    server.stop()


@pytest.fixture
def browser_context(browser) -> Iterator[object]:
    """A fresh profile per test: no cookies or localStorage carried over."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def browser_page(browser_context) -> object:
    return browser_context.new_page()


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/accounts/login/" not in page.url, f"login as {username} failed"


@pytest.fixture
def login() -> Callable[..., None]:
    """`login(page, live_server, username)` signs in with the factories' password."""
    return log_in
