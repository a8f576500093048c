"""A database that is down or restarting answers 503 "try again in a moment", never a 500 page.

Django turns an exception into a 500 response inside whichever middleware raised it, so a
middleware cannot catch a lost database connection by wrapping the call: the session middleware
(which loads the session on every response, SESSION_SAVE_EVERY_REQUEST) would already have
converted it. Instead, Django's `got_request_exception` signal marks the request when the
uncaught exception is a database connection error, and this middleware, placed before
SessionMiddleware, swaps that request's 500 response for a 503 with Retry-After: JSON for the
APIs, a plain page (no templates, no database) for people. Django still logs the traceback for
the operator; the client sees neither the traceback nor the SQL or connection details.

The session is not saved on a 5xx response, so nobody is signed out by the outage, and once
the database answers again the next request reconnects (CONN_HEALTH_CHECKS).

One more case needs the session engine of this module (SESSION_ENGINE =
"iim_scoring.db_unavailable"): when the database goes away after the view has answered but
before the session is saved, Django's database sessions report any database error as "the
session was deleted meanwhile", a 400 Bad Request, which the grading page reads as "the change
was refused" and drops. Here a lost connection stays a lost connection, so it becomes the same
503, which the grading page retries.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

MESSAGE = (
    "The database is not reachable right now; your last saved work is safe; try again in a moment."
)
RETRY_AFTER_SECONDS = 5
# Paths whose clients read JSON whatever they send as Accept.
JSON_PREFIXES = ("/api/", "/reading/api/")
JSON_PATHS = ("/healthz",)
_MARK = "_iim_database_unavailable"

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Database not reachable · iim-scoring</title>
  <style>
    body {{ font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 36rem;
           padding: 0 1rem; color: #1f2933; }}
    h1 {{ font-size: 1.4rem; }}
  </style>
</head>
<body>
  <h1>The database is not reachable right now</h1>
  <p>{MESSAGE}</p>
  <p><a href="">Try again</a></p>
</body>
</html>
"""
# The page has no scripts and loads nothing: the strictest policy fits (the CSP and
# X-Frame-Options middleware sit inside this one and never see its response).
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """A lost or refused database connection, also when re-raised `from` one."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


def _mark_request(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    # Sent by Django while it handles an uncaught exception, so sys.exc_info() holds it.
    if request is not None and is_database_unavailable(sys.exc_info()[1]):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark_request, dispatch_uid="iim_scoring.db_unavailable")


def wants_json(request: HttpRequest) -> bool:
    path = request.path_info
    if path.startswith(JSON_PREFIXES) or path in JSON_PATHS:
        return True
    return "text/html" not in request.headers.get("Accept", "")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        response = HttpResponse(
            json.dumps({"detail": MESSAGE, "code": "database_unavailable"}),
            content_type="application/json",
            status=503,
        )
    else:
        response = HttpResponse(PAGE, content_type="text/html; charset=utf-8", status=503)
        response["Content-Security-Policy"] = PAGE_CSP
        response["X-Frame-Options"] = "DENY"
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Put in MIDDLEWARE before SessionMiddleware (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _MARK, False):
            logger.warning("503 for %s: the database is not reachable", request.path)
            return database_unavailable_response(request)
        return response


class SessionStore(DatabaseSessionStore):
    """Database sessions whose save() lets a lost connection through as itself, not as
    UpdateError (which SessionMiddleware turns into SessionInterrupted, a 400)."""

    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except UpdateError as exc:
            if is_database_unavailable(exc.__context__):
                raise exc.__context__ from None
            raise

    async def asave(self, must_create: bool = False) -> None:
        try:
            await super().asave(must_create=must_create)
        except UpdateError as exc:
            if is_database_unavailable(exc.__context__):
                raise exc.__context__ from None
            raise
