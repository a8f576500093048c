"""One exception handler: service ValidationErrors, PermissionDenied and Http404 become clear
JSON responses (`{"detail": ..., "code": ...}`), never a 500 page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# Service error codes that mean "your copy is out of date" rather than "bad input".
CONFLICT_CODES = {"stale", "locked"}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        code = getattr(exc, "code", None) or "invalid"
        if hasattr(exc, "message_dict"):
            body = {"detail": "Invalid input.", "code": code, "fields": exc.message_dict}
        else:
            body = {"detail": " ".join(exc.messages), "code": code}
        http = status.HTTP_409_CONFLICT if code in CONFLICT_CODES else status.HTTP_400_BAD_REQUEST
        return Response(body, status=http)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    return exception_handler(exc, context)
