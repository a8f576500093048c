"""Coordinator pages of the reading workflow: bulk assignment, a read's audit trail,
amendments of a cohort."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cohorts.models import AuditEvent
from cohorts.roles import COORDINATOR, has_role
from cohorts.selectors import cohort_get_for_user

from .forms import AssignmentForm
from .models import Read
from .selectors import read_get_for_coordinator
from .services import AssignmentPlan, read_audit_trail, reads_assign_bulk


def _require_coordinator(request: HttpRequest) -> None:
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied


@login_required
def assign_reads(request: HttpRequest, slug: str) -> HttpResponse:
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    form = AssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        plan = AssignmentPlan(
            readers=list(data["readers"]),
            double_reading=data["double_reading"],
            consensus_reader=data["consensus_reader"],
            reread_fraction=data["reread_percent"] / 100,
            reread_after_days=data["reread_after_days"],
        )
        created = reads_assign_bulk(
            cohort=cohort, protocol=data["protocol"], plan=plan, actor=request.user
        )
        messages.success(request, f"{len(created)} reads assigned or already in place.")
        return redirect("scoring:assign", slug=cohort.slug)
    reads = (
        Read.objects.filter(study__patient__cohort=cohort)
        .select_related("reader", "protocol", "study__patient")
        .order_by("study__patient__pseudonym", "kind")
    )
    return render(request, "scoring/assign.html", {"cohort": cohort, "form": form, "reads": reads})


@login_required
def read_audit(request: HttpRequest, read_id: int) -> HttpResponse:
    """Every event of one read and its grades, oldest first; nothing here can be edited."""
    read = read_get_for_coordinator(read_id=read_id, user=request.user)
    return render(
        request, "scoring/read_audit.html", {"read": read, "events": read_audit_trail(read=read)}
    )


@login_required
def amendments(request: HttpRequest, slug: str) -> HttpResponse:
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    events = (
        AuditEvent.objects.filter(cohort=cohort, action="read.amend")
        .select_related("actor")
        .order_by("-at")
    )
    reads = {
        str(r.pk): r
        for r in Read.objects.filter(pk__in=[int(e.target_id) for e in events]).select_related(
            "study__patient"
        )
    }
    rows = [{"event": e, "read": reads.get(e.target_id)} for e in events]
    return render(request, "scoring/amendments.html", {"cohort": cohort, "rows": rows})
