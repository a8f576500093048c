"""Training mode's pages: a trainee's own learning curve, and the coordinator's page that
marks reference reads, gives them to trainees as training cases and shows every trainee's
curve. Agreement comes from analytics.training; writes go through scoring's services."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from analytics.training import curve_figure, training_curve
from cohorts.roles import COORDINATOR, RADIOLOGIST, has_role
from cohorts.selectors import cohort_get_for_user
from scoring.forms import TrainingAssignForm
from scoring.models import Read
from scoring.services import read_reference_set, training_assign


@login_required
def my_training(request: HttpRequest) -> HttpResponse:
    """A radiologist's own training cases against their references, and the curve."""
    if not has_role(request.user, RADIOLOGIST):
        raise PermissionDenied
    cases = training_curve(trainee=request.user)
    figure = curve_figure(cases, "Your agreement with the references") if cases else None
    return render(
        request,
        "analytics/training.html",
        {"cases": cases, "figure": json.dumps(figure) if figure else None, "trainees": None},
    )


def _reference_candidates(cohort):
    return (
        Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
        .exclude(kind=Read.Kind.TRAINING)
        .select_related("reader", "protocol", "study__patient")
        .order_by("study__patient__pseudonym", "study__timepoint", "kind")
    )


@login_required
@require_http_methods(["GET", "POST"])
def cohort_training(request: HttpRequest, slug: str) -> HttpResponse:
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    candidates = _reference_candidates(cohort)
    references = candidates.filter(is_reference=True)
    if request.method == "POST":
        try:
            _training_post(request, candidates, references)
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        return redirect("analytics:cohort-training", slug=cohort.slug)
    trainee_ids = (
        Read.objects.filter(study__patient__cohort=cohort, kind=Read.Kind.TRAINING)
        .values_list("reader_id", flat=True)
        .distinct()
    )
    trainees = []
    for trainee in get_user_model().objects.filter(pk__in=trainee_ids).order_by("username"):
        cases = training_curve(trainee=trainee, cohort=cohort)
        figure = curve_figure(cases, trainee.get_username()) if cases else None
        open_cases = Read.objects.filter(
            reader=trainee, kind=Read.Kind.TRAINING, study__patient__cohort=cohort
        ).exclude(status=Read.Status.SUBMITTED)
        trainees.append(
            {
                "user": trainee,
                "cases": cases,
                "open": open_cases.count(),
                "figure": json.dumps(figure) if figure else None,
            }
        )
    return render(
        request,
        "analytics/training.html",
        {
            "cohort": cohort,
            "candidates": candidates,
            "assign_form": TrainingAssignForm(references=references),
            "trainees": trainees,
        },
    )


def _training_post(request: HttpRequest, candidates, references) -> None:
    if request.POST.get("action") == "reference":
        read = get_object_or_404(candidates, pk=request.POST.get("read"))
        read_reference_set(
            read=read, is_reference=request.POST.get("value") == "1", actor=request.user
        )
        return
    form = TrainingAssignForm(request.POST, references=references)
    if not form.is_valid():
        raise ValidationError("Choose a trainee and at least one reference read.")
    references = list(form.cleaned_data["references"])
    training_assign(references=references, trainee=form.cleaned_data["trainee"], actor=request.user)
    count = len(references)
    messages.success(
        request,
        f"{count} training case{'s' if count != 1 else ''} given to "
        f"{form.cleaned_data['trainee'].get_username()}.",
    )
