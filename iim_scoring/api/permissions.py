"""Who may call the statisticians' API at all; which cohort's rows they see is decided by the
cohort selectors (`cohort_get_for_user`, `patients_for_user`)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from cohorts.roles import CLINICIAN, COORDINATOR, ROLES, STATISTICIAN, has_role

COHORT_DATA_ROLES = (CLINICIAN, COORDINATOR, STATISTICIAN)


class HoldsCohortDataRole(BasePermission):
    """Clinicians, coordinators and statisticians; radiologists are refused (403), so a reader
    never learns whether a cohort, patient or study exists."""

    message = "Cohort data is for clinicians, coordinators and statisticians of the cohort."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return has_role(request.user, *COHORT_DATA_ROLES)


class HoldsAnyRole(BasePermission):
    """The atlas and the protocols are shared vocabulary: every role may read them."""

    message = "Your account holds no role yet."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return has_role(request.user, *ROLES)


class DocsReadable(BasePermission):
    """The schema and its docs: open in development, signed-in users only when
    API_DOCS_REQUIRE_LOGIN (the default in production), since they list the reading endpoints."""

    message = "Sign in to read the API's schema and documentation."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return not settings.API_DOCS_REQUIRE_LOGIN or bool(request.user.is_authenticated)
