"""Radiologist pages: the worklist and the read page. Only blind fields ever reach them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cohorts.roles import RADIOLOGIST, has_role

from .selectors import protocol_cell_count, reads_for_reader


def _require_radiologist(request: HttpRequest) -> None:
    if not has_role(request.user, RADIOLOGIST):
        raise PermissionDenied


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    _require_radiologist(request)
    reads = list(reads_for_reader(reader=request.user).select_related("protocol"))
    totals: dict[int, int] = {}
    for read in reads:
        if read.protocol_id not in totals:
            totals[read.protocol_id] = protocol_cell_count(protocol=read.protocol)
        read.n_cells = totals[read.protocol_id]
    return render(request, "scoring/worklist.html", {"reads": reads})


@login_required
def read_page(request: HttpRequest, read_id: int) -> HttpResponse:
    from .selectors import read_get_for_reader

    read = read_get_for_reader(read_id=read_id, user=request.user)
    return render(request, "scoring/read.html", {"read": read})
