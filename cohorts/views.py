"""Cohort pages for clinicians, coordinators and statisticians (never radiologists)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .roles import CLINICIAN, COORDINATOR, STATISTICIAN, has_role
from .selectors import cohort_get_for_user, cohorts_for_user


def require_clinical_role(request: HttpRequest) -> None:
    """403 for anyone without a clinical role (radiologists never see cohort or clinical data)."""
    if not has_role(request.user, CLINICIAN, COORDINATOR, STATISTICIAN):
        raise PermissionDenied


@login_required
def cohort_list(request: HttpRequest) -> HttpResponse:
    require_clinical_role(request)
    cohorts = cohorts_for_user(user=request.user).annotate(
        n_patients=Count("patients", distinct=True)
    )
    return render(request, "cohorts/cohort_list.html", {"cohorts": cohorts})


@login_required
def cohort_detail(request: HttpRequest, slug: str) -> HttpResponse:
    require_clinical_role(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    by_subtype = cohort.patients.values("subtype").annotate(n=Count("id")).order_by("subtype")
    return render(
        request,
        "cohorts/cohort_detail.html",
        {
            "cohort": cohort,
            "by_subtype": by_subtype,
            "n_patients": cohort.patients.count(),
            "sites": cohort.sites.all(),
        },
    )
