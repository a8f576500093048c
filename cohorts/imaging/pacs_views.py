"""The cohort's DICOM network page (who may send to its listener, the PACS it retrieves from,
C-ECHO), and the PACS search that retrieves chosen studies into the cohort.

Coordinators who are members of the cohort only (other roles 403, non-members 404). The
search runs on POST, so the typed patient id or accession number never sits in a URL (nor in
an access log), and it is never stored: the results page is the only place it goes.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cohorts.imaging.pacs import (
    NO_STUDIES,
    PacsUnavailable,
    pacs_echo,
    pacs_find_studies,
    pacs_peer_create,
    retrieve_job_create,
)
from cohorts.imaging.senders import dicom_sender_create
from cohorts.imaging.views import _cohort_for
from cohorts.models import Cohort, DicomSender, PacsPeer
from cohorts.roles import COORDINATOR

SEARCH_NEEDS_A_KEY = "Give a patient ID, an accession number or a date range."
DATES_REVERSED = "The first date is after the last."
STUDY_CHOICE_INVALID = "A chosen study is not one the search found; search again."
_STUDY_CHOICE = re.compile(r"^([0-9]+(?:\.[0-9]+)*):([0-9]{1,7})$")  # "<study UID>:<instances>"


class PacsPeerForm(forms.Form):
    name = forms.CharField(max_length=100)
    ae_title = forms.CharField(label="AE title", max_length=16)
    host = forms.CharField(max_length=255)
    port = forms.IntegerField(min_value=1, max_value=65535, initial=104)
    retrieve_method = forms.ChoiceField(
        choices=PacsPeer.RetrieveMethod.choices, initial=PacsPeer.RetrieveMethod.GET
    )


class DicomSenderForm(forms.Form):
    ae_title = forms.CharField(label="Calling AE title", max_length=16)
    address = forms.GenericIPAddressField(
        required=False, help_text="The one address it sends from; empty: any address."
    )
    description = forms.CharField(max_length=200, required=False)


class StudySearchForm(forms.Form):
    patient_id = forms.CharField(label="Patient ID", max_length=64, required=False)
    accession_number = forms.CharField(max_length=16, required=False)
    date_from = forms.DateField(label="Studies from", required=False)
    date_to = forms.DateField(label="to", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(key) for key in self.fields):
            raise ValidationError(SEARCH_NEEDS_A_KEY)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError(DATES_REVERSED)
        return data


def _peer(cohort: Cohort, peer_id: int) -> PacsPeer:
    return get_object_or_404(PacsPeer, pk=peer_id, cohort=cohort)


def _network_page(
    request: HttpRequest,
    cohort: Cohort,
    *,
    peer_form: PacsPeerForm | None = None,
    sender_form: DicomSenderForm | None = None,
    echo: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "cohort": cohort,
        "peers": PacsPeer.objects.filter(cohort=cohort),
        "senders": DicomSender.objects.filter(cohort=cohort),
        "global_senders": settings.DICOM_LISTENER_CALLING_AETS,
        "retrieve_destination": (
            settings.DICOM_RETRIEVE_AE_TITLE,
            settings.DICOM_RETRIEVE_HOST,
            settings.DICOM_RETRIEVE_PORT,
        ),
        "our_ae_title": settings.DICOM_LISTENER_AE_TITLE,
        "peer_form": peer_form or PacsPeerForm(),
        "sender_form": sender_form or DicomSenderForm(),
        "echo": echo,
    }
    return render(request, "cohorts/dicom/network.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dicom_network_page(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = _cohort_for(request, slug, COORDINATOR)
    if request.method != "POST":
        return _network_page(request, cohort)
    if request.POST.get("add") == "sender":
        form = DicomSenderForm(request.POST)
        if form.is_valid():
            try:
                dicom_sender_create(cohort=cohort, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("cohorts:dicom-network", cohort.slug)
        return _network_page(request, cohort, sender_form=form, status=400)
    form = PacsPeerForm(request.POST)
    if form.is_valid():
        try:
            pacs_peer_create(cohort=cohort, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("cohorts:dicom-network", cohort.slug)
    return _network_page(request, cohort, peer_form=form, status=400)


@login_required
@require_POST
def pacs_echo_view(request: HttpRequest, slug: str, peer_id: int) -> HttpResponse:
    """The C-ECHO button: says whether the PACS answers."""
    cohort = _cohort_for(request, slug, COORDINATOR)
    peer = _peer(cohort, peer_id)
    try:
        pacs_echo(peer=peer)
    except PacsUnavailable as exc:
        return _network_page(request, cohort, echo={"peer": peer, "ok": False, "message": exc})
    return _network_page(request, cohort, echo={"peer": peer, "ok": True})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pacs_search_page(request: HttpRequest, slug: str, peer_id: int) -> HttpResponse:
    cohort = _cohort_for(request, slug, COORDINATOR)
    peer = _peer(cohort, peer_id)
    form = StudySearchForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"cohort": cohort, "peer": peer, "form": form}
    if request.method != "POST":
        return render(request, "cohorts/dicom/pacs_search.html", context)
    if not form.is_valid():
        return render(request, "cohorts/dicom/pacs_search.html", context, status=400)
    try:
        context["studies"] = pacs_find_studies(peer=peer, **form.cleaned_data)
    except PacsUnavailable as exc:
        context["error"] = str(exc)
    context["searched"] = True
    return render(request, "cohorts/dicom/pacs_search.html", context)


@login_required
@require_POST
def pacs_retrieve_view(request: HttpRequest, slug: str, peer_id: int) -> HttpResponse:
    """Queue the retrieval of the studies ticked on the results page; shows its job."""
    cohort = _cohort_for(request, slug, COORDINATOR)
    peer = _peer(cohort, peer_id)
    chosen = [_STUDY_CHOICE.match(value) for value in request.POST.getlist("study")]
    if not chosen or not all(chosen):
        message = STUDY_CHOICE_INVALID if chosen else NO_STUDIES
        context = {"cohort": cohort, "peer": peer, "form": StudySearchForm(), "error": message}
        return render(request, "cohorts/dicom/pacs_search.html", context, status=400)
    studies = [(match.group(1), int(match.group(2))) for match in chosen if match]
    job = retrieve_job_create(cohort=cohort, actor=request.user, peer=peer, studies=studies)
    return redirect("cohorts:dicom-import-job", cohort.slug, job.pk)
