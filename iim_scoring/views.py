"""Project-level pages: the role-aware landing page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from cohorts.roles import COORDINATOR, has_role, user_roles

from .health import check_broker, check_database, check_workers


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the entry points of its own work, and sees nothing of the others'."""
    return render(request, "home.html", {"roles": user_roles(request.user)})


def healthz(request: HttpRequest) -> JsonResponse:
    """Load balancers and docker-compose ask here: 200 when the database and broker answer.
    The server is named by kind only: no address leaves on this open URL."""
    checks = [check_database(), check_broker()]
    body = {c.name: "ok" if c.ok else c.detail for c in checks}
    body["database_server"] = "DATABASE_URL" if settings.USING_DATABASE_SERVICE else "embedded"
    return JsonResponse(body, status=200 if all(c.ok for c in checks) else 503)


@login_required
def data_protection(request: HttpRequest) -> HttpResponse:
    """What is stored and how pseudonymity is kept: for coordinators."""
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied
    return render(request, "data_protection.html")


@login_required
def operations(request: HttpRequest) -> HttpResponse:
    """Background work as a coordinator sees it: services, workers, and per cohort whether
    results are fresh, being recomputed or failed, and the latest DICOM imports."""
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied
    from analytics.selectors import background_work_for_cohorts
    from cohorts.selectors import cohorts_for_user

    cohorts = cohorts_for_user(user=request.user).order_by("title")
    return render(
        request,
        "operations.html",
        {
            "checks": [check_database(), check_broker(), check_workers()],
            "cohorts": background_work_for_cohorts(cohorts=list(cohorts)),
        },
    )
