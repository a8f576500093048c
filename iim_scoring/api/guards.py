"""What holds for every request, pages and API alike: refusals before any view runs, and the
site's own error pages."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

NUL_IN_REQUEST = "The address contains a NUL character."


class RefuseNulMiddleware:
    """A NUL character in the path or query string answers 400: JSON under an API path, else
    the site's 400 page.

    No pseudonym, slug or filter value holds one, and Postgres cannot compare text with it:
    such a value reached a query as a 500 (`/api/v1/cohorts/x/patients/a%00b/`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            if request.path.startswith("/api/") or "/api/" in request.path:
                return JsonResponse({"detail": NUL_IN_REQUEST, "code": "invalid"}, status=400)
            raise SuspiciousOperation(NUL_IN_REQUEST)
        return self.get_response(request)


class ErrorPagesMiddleware:
    """The site's own 400, 404 and 500 pages in every mode, the demo's DEBUG mode included:
    there Django answers with its debug pages, whose 404 lists every URL pattern of the site.

    Only HTML error pages are replaced (the API's JSON errors stay as they are). The exception
    behind a 500 is still logged by Django; a developer who wants the debug pages sets
    DEBUG_ERROR_PAGES=true."""

    STATUSES = (400, 404, 500)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and not settings.DEBUG_ERROR_PAGES
            and response.status_code in self.STATUSES
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return render(request, f"{response.status_code}.html", status=response.status_code)
        return response
