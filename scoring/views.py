"""Radiologist pages: the worklist, the read page and its images. Only blind fields ever reach
them: the blind label, the status and the grades."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cohorts.roles import RADIOLOGIST, has_role
from iim_scoring.sessions import session_not_refreshed

from .blinding import image_token, read_copy
from .models import Read, ReaderPreference
from .scales import NA_DEFINITION, NA_LABEL, NOT_ASSESSABLE
from .selectors import (
    adjudication_cells,
    grid_rows,
    next_open_read,
    protocol_cell_count,
    read_get_for_reader,
    read_instance_get,
    read_levels,
    read_stacks,
    training_feedback,
    worklist_for_reader,
)

WINDOW_PRESETS = {
    # Per sequence: STIR needs a wide window to judge oedema, T1 a narrower one for fat.
    "STIR": [
        {"name": "Default", "center": 400, "width": 800},
        {"name": "Oedema", "center": 600, "width": 900},
        {"name": "Narrow", "center": 350, "width": 400},
        {"name": "Wide", "center": 800, "width": 1600},
    ],
    "T1": [
        {"name": "Default", "center": 600, "width": 1200},
        {"name": "Fat", "center": 900, "width": 1000},
        {"name": "Muscle", "center": 400, "width": 600},
        {"name": "Wide", "center": 1000, "width": 2200},
    ],
}


def _require_radiologist(request: HttpRequest) -> None:
    if not has_role(request.user, RADIOLOGIST):
        raise PermissionDenied


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    _require_radiologist(request)
    reads = list(worklist_for_reader(reader=request.user).select_related("protocol"))
    totals: dict[int, int] = {}
    for read in reads:
        if read.protocol_id not in totals:
            totals[read.protocol_id] = protocol_cell_count(protocol=read.protocol)
        read.n_cells = totals[read.protocol_id]
    return render(request, "scoring/worklist.html", {"reads": reads})


@login_required
def read_page(request: HttpRequest, read_token: str) -> HttpResponse:
    """Viewer and grading grid of one read; everything the page loads later is blind too."""
    read = read_get_for_reader(read_token=read_token, user=request.user)
    prefs = ReaderPreference.objects.filter(reader=request.user).first()
    series = [_stack_config(read, stack) for stack in read_stacks(read=read)]
    config = {
        "series": series,
        "levels": read_levels(read=read),
        "levelsUrl": reverse("scoring:api-levels", args=[read.token]),
        "prefsUrl": reverse("scoring:api-prefs"),
        "prefs": {"voi": prefs.voi if prefs else {}, "keymap": prefs.keymap if prefs else {}},
        "csrfToken": get_token(request),
    }
    grading = {
        "readId": read.token,
        "version": read.version,
        "status": read.status,
        "sequences": read.protocol.sequences,
        "urls": {
            "state": reverse("scoring:api-read", args=[read.token]),
            "grades": reverse("scoring:api-grades", args=[read.token]),
            "submit": reverse("scoring:api-submit", args=[read.token]),
            "amend": reverse("scoring:api-amend", args=[read.token]),
            "notes": reverse("scoring:api-notes", args=[read.token]),
            "activity": reverse("scoring:api-activity", args=[read.token]),
            "prefs": reverse("scoring:api-prefs"),
        },
        "keymap": prefs.keymap if prefs else {},
        "training": read.kind == Read.Kind.TRAINING,
        "csrfToken": get_token(request),
    }
    next_read = next_open_read(reader=request.user, after=read)
    to_decide = adjudication_cells(read)
    feedback = training_feedback(read)
    return render(
        request,
        "scoring/read.html",
        {
            "read": read,
            "rows": grid_rows(read=read, feedback=feedback),
            "feedback": feedback,
            "adjudication": to_decide,
            "sequences": read.protocol.sequences,
            "grid_columns": 2 * len(read.protocol.sequences) + 1,
            "scales": [(seq, read.protocol.scale_of(seq)) for seq in read.protocol.sequences],
            "scale_config": _scale_config(read.protocol),
            "findings": read.protocol.region_findings,
            "regions": _regions(read),
            "viewer_config": config,
            "grading_config": grading,
            "has_images": bool(series),
            "next_read": next_read,
            # An adjudication read counts only the cells it shows.
            "total": len(to_decide) if to_decide else protocol_cell_count(protocol=read.protocol),
        },
    )


def _scale_config(protocol) -> dict:
    """Each graded sequence's scale and NA, as the grid takes them (frontend/README.md)."""
    return {
        "sequences": {seq: protocol.scale_of(seq).as_json() for seq in protocol.sequences},
        "na": {"value": NOT_ASSESSABLE, "label": NA_LABEL, "definition": NA_DEFINITION},
    }


def _stack_config(read, stack) -> dict:
    """One viewport's stack as the viewer takes it (frontend/README.md, reader-config)."""
    slices = stack.slices
    label = stack.role if stack.orientation == "axial" else f"{stack.role} · {stack.orientation}"
    return {
        "key": stack.key,
        "sequence": stack.role,
        "label": label,
        "orientation": stack.orientation,
        "syncGroup": stack.orientation,
        "imageIds": [
            "wadouri:"
            + reverse(
                "scoring:read-image",
                args=[read.token, image_token(read=read, instance_id=s.instance.pk)],
            )
            for s in slices
        ],
        "positions": _all_or_none([s.position for s in slices]),
        "sliceLocations": _all_or_none([s.instance.slice_location for s in slices]),
        "stations": [s.station for s in slices],
        "stationCount": len(stack.series),
        "gaps": stack.gaps,
        "presets": WINDOW_PRESETS.get(stack.role, []),
    }


def _regions(read) -> list[dict]:
    seen: dict[str, dict] = {}
    for muscle in read.protocol.muscles.select_related("group__region").order_by(
        "group__region__order"
    ):
        region = muscle.group.region
        seen.setdefault(region.slug, {"slug": region.slug, "name": region.name})
    return list(seen.values())


def _all_or_none(values: list[float | None]) -> list[float] | None:
    return values if values and all(v is not None for v in values) else None


@login_required
@require_GET
@session_not_refreshed
def read_image(request: HttpRequest, read_token: str, image: str) -> HttpResponse:
    """One slice as DICOM Part-10 for the viewer (`wadouri:`), blinded for the reader, with
    the read's own UIDs."""
    read = read_get_for_reader(read_token=read_token, user=request.user)
    instance = read_instance_get(read=read, image=image)
    etag = (
        '"'
        + hashlib.sha256(
            f"{instance.pk}:{read.token}:{read.blind_label}:{settings.SECRET_KEY[:8]}".encode()
        ).hexdigest()[:32]
        + '"'
    )
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified()
    try:
        with instance.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise Http404("The image file is missing.") from exc
    response = HttpResponse(read_copy(data, read=read), content_type="application/dicom")
    # Private: the bytes are the reader's blinded copy; a day of caching spares re-downloads.
    response["Cache-Control"] = "private, max-age=86400"
    response["ETag"] = etag
    return response
