"""Sessions that slide on every request (SESSION_SAVE_EVERY_REQUEST: idle users are signed out
after SESSION_COOKIE_AGE), except for the requests a view marks as not the user's doing.

The reading viewer fetches every image of a study ahead of the reader, hundreds per read: each
would otherwise write the session (BEGIN, UPDATE, COMMIT) for a GET. The page that fetches them
extends the session itself, and so do the reader's grades and activity reports."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

_NOT_REFRESHED = "_session_not_refreshed"


def session_not_refreshed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view's responses do not extend the session (nor write it)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        setattr(request, _NOT_REFRESHED, True)
        return view(request, *args, **kwargs)

    return wrapped


class SessionMiddleware(DjangoSessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if getattr(request, _NOT_REFRESHED, False) and session is not None and not session.modified:
            if session.accessed:
                patch_vary_headers(response, ("Cookie",))
            return response
        return super().process_response(request, response)
