"""Coordinator pages of the reading workflow: bulk assignment, adjudication of double reads,
a read's audit trail, amendments of a cohort."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cohorts.models import AuditEvent, ImagingStudy
from cohorts.roles import COORDINATOR, has_role
from cohorts.selectors import cohort_get_for_user, patient_get_for_user

from .erasure import patient_erase, patient_record
from .forms import AdjudicationAssignForm, AdjudicationThresholdForm, AssignmentForm
from .models import CohortProtocol, Read
from .selectors import adjudication_overview, read_audit_rows, read_get_for_coordinator
from .services import (
    AssignmentPlan,
    adjudication_assign,
    cohort_adjudication_threshold_set,
    read_audit_trail,
    reads_assign_bulk,
    reads_assign_preview,
)

_ASSESSMENTS = ("clinical assessment", "clinical assessments")


def counted(n: int, singular: str, plural: str) -> str:
    """`n` and the noun in the number it needs: "1 read", "0 reads"."""
    return f"{n} {singular if n == 1 else plural}"


def _require_coordinator(request: HttpRequest) -> None:
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied


def _assignment_plan(data: dict) -> AssignmentPlan:
    return AssignmentPlan(
        readers=list(data["readers"]),
        double_reading=data["double_reading"],
        consensus_reader=data["consensus_reader"],
        reread_fraction=data["reread_percent"] / 100,
        reread_after_days=data["reread_after_days"],
    )


@login_required
@require_http_methods(["GET", "POST"])
def assign_reads(request: HttpRequest, slug: str) -> HttpResponse:
    """Bulk assignment in two steps: a POST shows what would be created (reads per reader,
    studies skipped for want of images); only the confirming POST creates the reads."""
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    form = AssignmentForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        plan = _assignment_plan(data)
        if request.POST.get("confirm") == "yes":
            created = reads_assign_bulk(
                cohort=cohort, protocol=data["protocol"], plan=plan, actor=request.user
            )
            messages.success(request, f"{counted(len(created), 'read', 'reads')} assigned.")
            return redirect("scoring:assign", slug=cohort.slug)
        preview = reads_assign_preview(cohort=cohort, protocol=data["protocol"], plan=plan)
    reads = (
        Read.objects.filter(study__patient__cohort=cohort)
        .select_related("reader", "protocol", "study__patient")
        .order_by("study__patient__pseudonym", "kind")
    )
    return render(
        request,
        "scoring/assign.html",
        {
            "cohort": cohort,
            "form": form,
            "reads": reads,
            "preview": preview,
            "kinds": dict(Read.Kind.choices),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def adjudication(request: HttpRequest, slug: str) -> HttpResponse:
    """Double-read studies whose readers disagree: their discordant cells, the threshold that
    makes a cell discordant, and the assignment of an adjudicator."""
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    setup = CohortProtocol.objects.filter(cohort=cohort).first()
    if request.method == "POST":
        try:
            _adjudication_post(request, cohort, setup)
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        return redirect("scoring:adjudication", slug=cohort.slug)
    min_difference = setup.adjudication_min_difference if setup else 1
    return render(
        request,
        "scoring/adjudication.html",
        {
            "cohort": cohort,
            "rows": adjudication_overview(cohort=cohort),
            "assign_form": AdjudicationAssignForm(),
            "threshold_form": AdjudicationThresholdForm(initial={"min_difference": min_difference}),
            "can_set_threshold": setup is not None,
        },
    )


def _adjudication_post(request: HttpRequest, cohort, setup: CohortProtocol | None) -> None:
    if request.POST.get("action") == "threshold":
        form = AdjudicationThresholdForm(request.POST)
        if setup is None or not form.is_valid():
            raise ValidationError("The threshold is a whole number 1–5 (and needs a protocol).")
        cohort_adjudication_threshold_set(
            cohort_protocol=setup,
            min_difference=form.cleaned_data["min_difference"],
            actor=request.user,
        )
        messages.success(request, "Threshold saved.")
        return
    form = AdjudicationAssignForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Choose a radiologist as the adjudicator.")
    study = get_object_or_404(ImagingStudy, pk=form.cleaned_data["study"], patient__cohort=cohort)
    read = adjudication_assign(
        study=study, adjudicator=form.cleaned_data["adjudicator"], actor=request.user
    )
    cells = len(read.adjudication["cells"])
    messages.success(
        request,
        f"{study.patient.pseudonym}: {counted(cells, 'discordant cell', 'discordant cells')} "
        f"given to {read.reader.get_username()} as {read.blind_label}.",
    )


@login_required
def read_audit(request: HttpRequest, read_id: int) -> HttpResponse:
    """Every event of one read and its grades, oldest first; nothing here can be edited."""
    read = read_get_for_coordinator(read_id=read_id, user=request.user)
    rows = read_audit_rows(read=read, events=read_audit_trail(read=read))
    return render(request, "scoring/read_audit.html", {"read": read, "rows": rows})


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


@login_required
@require_GET
def patient_record_download(request: HttpRequest, slug: str, pseudonym: str) -> JsonResponse:
    """Everything stored about one patient, as a JSON download (GDPR Art. 15 and 20)."""
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    patient = patient_get_for_user(user=request.user, cohort=cohort, pseudonym=pseudonym)
    response = JsonResponse(patient_record(patient=patient), json_dumps_params={"indent": 2})
    # Only safe characters in the header: a pseudonym stored before the rule held "\r\n".
    name = re.sub(r"[^A-Za-z0-9-]", "_", f"{cohort.slug}-{pseudonym}")
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def patient_erase_page(request: HttpRequest, slug: str, pseudonym: str) -> HttpResponse:
    """Confirm, then erase one patient (GDPR Art. 17); the erasure is audited."""
    _require_coordinator(request)
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    patient = patient_get_for_user(user=request.user, cohort=cohort, pseudonym=pseudonym)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            summary = patient_erase(
                patient=patient,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                confirmation=request.POST.get("confirmation", ""),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(
                request,
                f"{summary.pseudonym} erased: {counted(summary.studies, 'study', 'studies')}, "
                f"{counted(summary.instances, 'image', 'images')}, "
                f"{counted(summary.reads, 'read', 'reads')}, "
                f"{counted(summary.assessments, *_ASSESSMENTS)}.",
            )
            return redirect("cohorts:patient-list", slug=cohort.slug)
    record = patient_record(patient=patient)
    return render(
        request,
        "scoring/patient_erase.html",
        {
            "cohort": cohort,
            "patient": patient,
            "errors": errors,
            "reason": request.POST.get("reason", ""),
            "counts": [
                counted(len(record["clinical_assessments"]), *_ASSESSMENTS),
                counted(len(record["imaging_studies"]), "imaging study", "imaging studies"),
                counted(len(record["reads"]), "read", "reads"),
                counted(
                    len(record["audit_events"]),
                    "audit event (values emptied)",
                    "audit events (values emptied)",
                ),
            ],
        },
        status=400 if errors else 200,
    )
