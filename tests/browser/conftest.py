"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Shared by every browser test module (agreed names: `browser_page`, `login`): one Chromium per
session, a fresh 1400×900 page in a fresh context per test, `login(page, live_server, username)`,
and a live server that works on the in-memory SQLite test database too. Fixtures of one module
belong in that module, or in a delimited block below.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
from django.test.testcases import ThreadedWSGIServer

from tests.factories import PASSWORD

# Playwright's sync API keeps an event loop running in the test thread; Django's ORM calls made
# by the test itself (fixtures, assertions on the database) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

VIEWPORT = {"width": 1400, "height": 900}


# An in-memory SQLite test database is one connection that every server thread shares with the
# test itself, while a browser sends requests in parallel (the viewer fetches several slices at
# once, each saving the session): SQLite then answers "database table is locked". So there, one
# thing at a time uses it: a whole request, or one query of the test.
_DATABASE_TURN = threading.RLock()


class _OneRequestAtATime(ThreadedWSGIServer):
    def set_app(self, application) -> None:  # noqa: ANN001
        def serially(environ, start_response):  # noqa: ANN001, ANN202
            with _DATABASE_TURN:
                return application(environ, start_response)

        super().set_app(serially)


def _query_in_turn(execute, sql, params, many, context):  # noqa: ANN001, ANN202
    with _DATABASE_TURN:
        return execute(sql, params, many, context)


@pytest.fixture(scope="session")
def live_server(request, django_db_setup) -> Iterator[object]:  # noqa: ANN001
    """pytest-django's live server, serialised when the test database is in-memory SQLite.

    It depends on `django_db_setup` so that it starts on the test database: created before it,
    it would see the settings of the development database.
    """
    from django.db import connection
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    if not server.thread.connections_override:  # Postgres, or SQLite on a file
        server.start()
        yield server
        server.stop()
        return
    server.thread.server_class = _OneRequestAtATime
    with connection.execute_wrapper(_query_in_turn):
        server.start()
        yield server
        server.stop()


@pytest.fixture
def browser_context(browser) -> Iterator[object]:  # noqa: ANN001
    """A fresh profile per test: no cookies or localStorage carried over."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def browser_page(browser_context) -> object:  # noqa: ANN001
    return browser_context.new_page()


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:  # noqa: ANN001
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
