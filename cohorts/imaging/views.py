"""DICOM pages: the coordinator's upload with its progress and per-file report, a study's
series preview, and one slice as a 16-bit PNG.

Who may do what here:
- upload and import jobs: coordinators who are members of the cohort; other roles 403,
  non-members 404;
- series preview page: coordinators of the cohort (it links to the admin's sequence fix);
- slice PNG: clinicians and coordinators of the cohort. Radiologists never: they see images
  only through their own read's blinded WADO-URI endpoint (scoring.views.read_image).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cohorts.imaging.dicom.render import SliceNotFound, slice_png
from cohorts.imaging.jobs import import_job_create
from cohorts.models import Cohort, DicomImportJob, Patient, Series
from cohorts.roles import CLINICIAN, COORDINATOR, has_role
from cohorts.selectors import (
    cohort_get_for_user,
    import_job_get_for_user,
    import_jobs_for_user,
    series_get_for_user,
    series_instance_at,
    studies_with_series_counts,
    study_get_for_user,
)

RECENT_JOBS = 20
RECENT_STUDIES = 50
REPORT_ROWS_SHOWN = 5000
_RENDITION_VERSION = "png16-v1"  # part of the ETag: a change of rendering invalidates caches


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        clean_one = super().clean
        if isinstance(data, list | tuple) and data:
            return [clean_one(item, initial) for item in data]
        return [clean_one(data or None, initial)]  # nothing chosen: the "required" error


class DicomUploadForm(forms.Form):
    files = _MultipleFileField(
        label="A .zip of a study or series, or DICOM files",
        help_text="Files are de-identified on import; the uploaded originals are deleted.",
    )
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        required=False,
        empty_label="Match by the files' patient ID (an unknown one becomes a new patient)",
        help_text="Or choose the cohort's patient these images belong to.",
    )

    def __init__(self, *args: Any, cohort: Cohort, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = Patient.objects.filter(cohort=cohort).order_by(
            "pseudonym"
        )
        self.fields["patient"].label_from_instance = lambda patient: patient.pseudonym


def _cohort_for(request: HttpRequest, slug: str, *roles: str) -> Cohort:
    """403 for a role that has no business here, then 404 for a cohort the user is not in."""
    if not has_role(request.user, *roles):
        raise PermissionDenied
    return cohort_get_for_user(slug=slug, user=request.user)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dicom_import_page(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = _cohort_for(request, slug, COORDINATOR)
    posted = request.method == "POST"
    form = (
        DicomUploadForm(request.POST, request.FILES, cohort=cohort)
        if posted
        else DicomUploadForm(cohort=cohort)
    )
    if posted and form.is_valid():
        try:
            job = import_job_create(
                cohort=cohort,
                actor=request.user,
                uploads=form.cleaned_data["files"],
                patient=form.cleaned_data["patient"],
            )
        except ValidationError as exc:
            form.add_error("files", exc)
        else:
            return redirect("cohorts:dicom-import-job", cohort.slug, job.pk)
    return render(
        request,
        "cohorts/dicom/import.html",
        {
            "cohort": cohort,
            "form": form,
            "max_bytes": settings.DICOM_MAX_ARCHIVE_BYTES,
            "jobs": import_jobs_for_user(user=request.user, cohort=cohort)[:RECENT_JOBS],
            "studies": studies_with_series_counts(cohort=cohort)[:RECENT_STUDIES],
        },
    )


@login_required
@require_GET
def dicom_import_job_page(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    cohort = _cohort_for(request, slug, COORDINATOR)
    job = import_job_get_for_user(user=request.user, cohort=cohort, job_id=job_id)
    order = {"rejected": 0, "skipped": 1, "imported": 2, "duplicate": 3}
    rows = sorted(job.report, key=lambda row: order.get(row["status"], 4))
    return render(
        request,
        "cohorts/dicom/import_job.html",
        {
            "cohort": cohort,
            "job": job,
            "rows": rows[:REPORT_ROWS_SHOWN],
            "rows_hidden": max(len(rows) - REPORT_ROWS_SHOWN, 0),
            "percent": _percent(job),
        },
    )


@login_required
@require_GET
def dicom_import_job_status(request: HttpRequest, slug: str, job_id: int) -> JsonResponse:
    """What the progress bar polls: counts only, never file names or reasons."""
    cohort = _cohort_for(request, slug, COORDINATOR)
    job = import_job_get_for_user(user=request.user, cohort=cohort, job_id=job_id)
    response = JsonResponse(
        {
            "status": job.status,
            "finished": job.is_finished,
            "files_done": job.files_done,
            "files_total": job.files_total,
            "percent": _percent(job),
            "imported": job.imported,
            "duplicates": job.duplicates,
            "rejected": job.rejected,
            "skipped": job.skipped,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _percent(job: DicomImportJob) -> int:
    if job.is_finished:
        return 100
    return min(99, int(100 * job.files_done / job.files_total)) if job.files_total else 0


@login_required
@require_GET
def study_series_page(request: HttpRequest, slug: str, study_id: int) -> HttpResponse:
    cohort = _cohort_for(request, slug, COORDINATOR)
    study = study_get_for_user(user=request.user, cohort=cohort, study_id=study_id)
    return render(
        request,
        "cohorts/dicom/study_series.html",
        {"cohort": cohort, "study": study, "series_list": study.series.order_by("series_number")},
    )


@login_required
@require_GET
def series_slice_png(request: HttpRequest, slug: str, series_id: int, index: int) -> HttpResponse:
    """Slice `index` of a series (stack order; `?frame=` for multi-frame files) as a 16-bit
    PNG; the default window and the value mapping travel in X-headers."""
    cohort = _cohort_for(request, slug, CLINICIAN, COORDINATOR)
    series: Series = series_get_for_user(user=request.user, cohort=cohort, series_id=series_id)
    instance = series_instance_at(series=series, index=index)
    try:
        frame = int(request.GET.get("frame", "0"))
    except ValueError as exc:
        raise Http404("No such frame.") from exc
    key = f"{_RENDITION_VERSION}:{instance.pk}:{instance.sop_instance_uid}:{frame}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    try:
        with instance.file.open("rb") as handle:
            rendition = slice_png(handle.read(), frame=frame)
    except FileNotFoundError as exc:
        raise Http404("The image file is missing.") from exc
    except SliceNotFound as exc:
        raise Http404("No such frame.") from exc
    response = HttpResponse(rendition.png, content_type="image/png")
    response["X-Window-Center"] = f"{rendition.window_center:g}"
    response["X-Window-Width"] = f"{rendition.window_width:g}"
    response["X-Value-Offset"] = str(rendition.value_offset)
    response["X-Rescale-Slope"] = f"{rendition.rescale_slope:g}"
    response["X-Rescale-Intercept"] = f"{rendition.rescale_intercept:g}"
    # Private: permission-checked pixels; a stored slice never changes, so cache for a day.
    response["Cache-Control"] = "private, max-age=86400"
    response["ETag"] = etag
    return response
