"""Swagger UI and ReDoc from local static files (drf-spectacular-sidecar), under the site's CSP.

Swagger UI's init script is served as a separate JavaScript response (`?script`), because the
CSP allows scripts from 'self' only; ReDoc is rendered without the web fonts drf-spectacular's
stock template fetches from Google.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.template import engines
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request

REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ title }}</title>
</head>
<body>
  <redoc spec-url="{{ schema_url }}"></redoc>
  <script src="{{ redoc_standalone }}"></script>
</body>
</html>
"""


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its init script comes from this same URL with `?script` (no inline JS)."""


class RedocDocsView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:
        page = engines["django"].from_string(REDOC_PAGE)
        html = page.render(
            {
                "title": self.title,
                "schema_url": self._get_schema_url(request),
                "redoc_standalone": self._redoc_standalone(),
            }
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")
