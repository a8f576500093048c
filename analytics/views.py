"""Cohort dashboards for clinicians, coordinators and statisticians. Only stored results are
read; a filter set that has no stored result yet is queued and shown as "computing"."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cohorts.models import Site
from scoring.models import Read, ScoringProtocol

from . import dashboard
from .recompute import analysis_parameters, parameters_key
from .selectors import analytics_state, dashboard_cohort_get, stored_results
from .services import request_parameter_set, requeue_stale_cohorts

SCOPES = {"unified": "Unified (max of STIR, T1)", "stir": "STIR only (oedema)",
          "t1": "T1 only (fat)"}


def _filters(request: HttpRequest) -> dict[str, Any]:
    """Dashboard filters from the URL (so a view can be shared); unknown values are ignored."""
    timepoint = request.GET.get("timepoint", "baseline")
    return {
        "sites": sorted(request.GET.getlist("site")),
        "subtypes": sorted(request.GET.getlist("subtype")),
        "readers": sorted(int(r) for r in request.GET.getlist("reader") if r.isdigit()),
        "protocol": request.GET.get("protocol") or None,
        "timepoint": int(timepoint) if timepoint.isdigit() else "baseline",
        "ck_log10": request.GET.get("ck") == "log10",
        "correction": "fdr_bh" if request.GET.get("correction") == "fdr_bh" else "holm",
    }


@login_required
@require_GET
def cohort_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    readers = (Read.objects.filter(study__patient__cohort=cohort, status="submitted")
               .values_list("reader_id", "reader__username").distinct().order_by(
                   "reader__username"))
    return render(request, "analytics/dashboard.html", {
        "cohort": cohort,
        "filters": _filters(request),
        "sites": Site.objects.filter(cohorts=cohort).order_by("code"),
        "subtypes": dashboard.SUBTYPE_ORDER[:-1],
        "readers": list(readers),
        "protocols": ScoringProtocol.objects.filter(reads__study__patient__cohort=cohort)
        .distinct(),
        "groups": dashboard.group_names(),
        "scopes": SCOPES,
    })


def _results_for(request: HttpRequest, slug: str) -> tuple[Any, dict, dict, dict]:
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    filters = _filters(request)
    results = stored_results(cohort=cohort, parameters=filters)
    return cohort, filters, results, {"parameters": analysis_parameters(filters)}


@login_required
@require_GET
def dashboard_data(request: HttpRequest, slug: str) -> JsonResponse:
    """Figures and tables of the requested filter set, built from stored results."""
    cohort, filters, results, _ = _results_for(request, slug)
    state = analytics_state(cohort=cohort)
    if state.stale and not state.recomputing:
        requeue_stale_cohorts()  # a request lost to a broker outage is sent again
    default = stored_results(cohort=cohort)
    if filters != _filters_default() and _outdated(results, default):
        key = f"iim:filter-request:{cohort.pk}:{parameters_key(filters)}"
        if cache.add(key, True, timeout=30):  # one request per filter set per half minute
            request_parameter_set(cohort_id=cohort.pk, parameters=filters)
            results = stored_results(cohort=cohort, parameters=filters)
    scope = request.GET.get("scope", "unified")
    stat = "median" if request.GET.get("stat") == "median" else "mean"
    payload: dict[str, Any] = {
        "status": _status(state, results, default),
        "computed_at": _computed_at(results),
        "figures": {}, "tables": {},
    }
    if not {"group_profile", "clinical_correlation", "patient_scores"} <= set(results):
        return JsonResponse(payload)
    profile = results["group_profile"].result.get(scope, {})
    correlation = results["clinical_correlation"].result.get(scope, {})
    patients = results["patient_scores"].result.get(scope, [])
    comparison = results["subtype_comparison"].result.get(scope, {})
    group = request.GET.get("group") or "medial-thigh"
    payload["figures"] = {
        "heatmap": dashboard.heatmap(profile.get("group", []), stat=stat),
        "scatter_mmt8": dashboard.scatter(patients, correlation.get("fits", []),
                                          correlation.get("bands", []), outcome="mmt8"),
        "scatter_ck": dashboard.scatter(patients, correlation.get("fits", []),
                                        correlation.get("bands", []), outcome="ck",
                                        log10_ck=filters["ck_log10"]),
        "limbs": dashboard.limb_bars(profile.get("limb", [])),
        "dunn": dashboard.dunn_matrix(comparison.get("dunn", []), group),
    }
    names = {slug: f"{region} · {name}" for slug, name, region in dashboard.group_names()}
    payload["tables"] = {
        "kruskal": [{**row, "group_name": names.get(row["group"], row["group"])}
                    for row in comparison.get("kruskal", [])],
        "descriptives": results["descriptives"].result["table"],
        "fits": correlation.get("fits", []),
    }
    return JsonResponse(payload)


def _filters_default() -> dict[str, Any]:
    return {"sites": [], "subtypes": [], "readers": [], "protocol": None,
            "timepoint": "baseline", "ck_log10": False, "correction": "holm"}


def _outdated(results: dict, default: dict) -> bool:
    """A filtered result is outdated when missing or computed from other input than the
    cohort's current default result."""
    if not results:
        return True
    reference = default.get("patient_scores")
    mine = results.get("patient_scores")
    return bool(reference and mine and mine.input_fingerprint != reference.input_fingerprint)


def _computed_at(results: dict) -> str | None:
    times = [r.computed_at for r in results.values() if r.computed_at]
    return max(times).isoformat() if times else None


def _status(state, results: dict, default: dict) -> dict[str, Any]:  # noqa: ANN001
    if state.recomputing:
        label = "recomputing"
    elif state.stale:
        label = "stale"
    elif not results:
        label = "computing"
    else:
        label = "fresh"
    return {"label": label, "stale_since": state.stale_since and state.stale_since.isoformat(),
            "last_error": state.last_error, "now": timezone.now().isoformat()}


@login_required
@require_GET
def dashboard_status(request: HttpRequest, slug: str) -> JsonResponse:
    cohort, _filters_, results, _ = _results_for(request, slug)
    state = analytics_state(cohort=cohort)
    return JsonResponse({"status": _status(state, results, {}),
                         "computed_at": _computed_at(results)})


CSV_SOURCES = {
    "heatmap": ("group_profile", lambda r, s: r.get(s, {}).get("group", [])),
    "limbs": ("group_profile", lambda r, s: r.get(s, {}).get("limb", [])),
    "scatter": ("patient_scores", lambda r, s: r.get(s, [])),
    "fits": ("clinical_correlation", lambda r, s: r.get(s, {}).get("fits", [])),
    "kruskal": ("subtype_comparison", lambda r, s: r.get(s, {}).get("kruskal", [])),
    "dunn": ("subtype_comparison", lambda r, s: r.get(s, {}).get("dunn", [])),
    "descriptives": ("descriptives", lambda r, s: r.get("table", [])),
}


@login_required
@require_GET
def dashboard_csv(request: HttpRequest, slug: str, figure: str) -> HttpResponse:
    """The rows behind one figure or table, as CSV (the same filters as the page)."""
    if figure not in CSV_SOURCES:
        return HttpResponse("Unknown figure.", status=404, content_type="text/plain")
    cohort, _f, results, _ = _results_for(request, slug)
    analysis, pick = CSV_SOURCES[figure]
    if analysis not in results:
        return HttpResponse("Not computed yet.", status=409, content_type="text/plain")
    rows = pick(results[analysis].result, request.GET.get("scope", "unified"))
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()
                         if not isinstance(v, dict | list)})
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{cohort.slug}-{figure}.csv"'
    return response
