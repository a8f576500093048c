"""Cohort dashboards for clinicians, coordinators and statisticians. Only stored results are
read, and no GET writes anything: a filter set that has no stored result yet is shown as
"computing" and the page asks for it by POST."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from analytics.models import AnalysisResult
from analytics.parameters import ParameterError, parameters_from_query
from analytics.recompute import analysis_parameters, parameters_key
from analytics.result_rows import patient_row_fields, stored_result_value
from analytics.selectors import analytics_state, dashboard_cohort_get, stored_results
from analytics.services import request_parameter_set
from cohorts.models import Cohort, ImagingStudy, Site
from cohorts.roles import CLINICIAN, COORDINATOR, has_role
from dashboards import figures
from scoring.models import Read, ScoringProtocol

# The roles that edit a cohort's data may ask for a filter set to be computed and stored.
COMPUTING_ROLES = (CLINICIAN, COORDINATOR)

SCOPE_LABELS = {
    "unified": "Unified (max of STIR, T1)",
    "stir": "STIR only (oedema)",
    "t1": "T1 only (fat)",
}


# What the page adds to the filters: how results are shown, not which are computed.
DISPLAY_NAMES = ("scope", "stat", "group")


def _filters(request: HttpRequest, cohort: Cohort) -> dict[str, Any]:
    """The parameter set of the URL's filters (so a view can be shared), checked against the
    cohort: an unknown name or value raises ParameterError (answered 400)."""
    return parameters_from_query(cohort, request.GET, also_allowed=DISPLAY_NAMES)


def _bad_filters(error: ParameterError) -> JsonResponse:
    return JsonResponse({"error": str(error), "problems": error.problems}, status=400)


@login_required
@require_GET
def cohort_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    try:
        filters = _filters(request, cohort)
    except ParameterError as error:
        return HttpResponseBadRequest(f"Unknown filter: {error}", content_type="text/plain")
    readers = (
        Read.objects.filter(study__patient__cohort=cohort, status="submitted")
        .values_list("reader_id", "reader__username")
        .distinct()
        .order_by("reader__username")
    )
    return render(
        request,
        "analytics/dashboard.html",
        {
            "cohort": cohort,
            "filters": filters,
            "timepoints": list(
                ImagingStudy.objects.filter(patient__cohort=cohort, timepoint__gt=0)
                .values_list("timepoint", flat=True)
                .distinct()
                .order_by("timepoint")
            ),
            "sites": Site.objects.filter(cohorts=cohort).order_by("code"),
            "subtypes": figures.SUBTYPE_ORDER[:-1],
            "readers": list(readers),
            "protocols": ScoringProtocol.objects.filter(
                reads__study__patient__cohort=cohort
            ).distinct(),
            "groups": figures.group_names(),
            "scopes": SCOPE_LABELS,
        },
    )


@login_required
@require_GET
def dashboard_data(request: HttpRequest, slug: str) -> HttpResponse:
    """Figures and tables of the requested filter set, built from stored results.

    The figures and tables are kept in the cache under the identity and write time of the
    stored results they come from (and the atlas's group names): until a result is written
    again, a request only reads the results' headers and the cohort's state. When they are
    built, only the requested scope of each result is read from the database."""
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    try:
        filters = _filters(request, cohort)
    except ParameterError as error:
        return _bad_filters(error)
    key = parameters_key(filters)
    results = _result_heads(cohort, key)
    state = analytics_state(cohort=cohort)
    default_key = parameters_key(analysis_parameters(None))
    default = results if key == default_key else _result_heads(cohort, default_key)
    scope = request.GET.get("scope", "unified")
    stat = "median" if request.GET.get("stat") == "median" else "mean"
    head = {
        "status": _status(state, results, default),
        "computed_at": _computed_at(results),
        # The page then asks for it by POST (dashboard_compute): a GET stores nothing.
        "needs_computation": key != default_key
        and _outdated(results, default)
        and has_role(request.user, *COMPUTING_ROLES),
    }
    if not {"group_profile", "clinical_correlation", "patient_scores"} <= set(results):
        return JsonResponse({**head, "figures": {}, "tables": {}})
    group = request.GET.get("group") or "medial-thigh"
    names = figures.group_names()
    sources = {a: results[a] for a in (*SCOPED_ANALYSES, "descriptives") if a in results}
    cache_key = _data_cache_key(cohort, sources, scope, stat, group, filters["ck_log10"], names)
    body = cache.get(cache_key)
    if body is None:
        drawn, tables = _figures_and_tables(sources, scope, stat, group, filters["ck_log10"], names)
        encoder = DjangoJSONEncoder
        body = (
            f'"figures": {json.dumps(drawn, cls=encoder)}, '
            f'"tables": {json.dumps(tables, cls=encoder)}'
        )
        cache.set(cache_key, body, timeout=DATA_CACHE_SECONDS)
    # The same bytes JsonResponse({**head, "figures": ..., "tables": ...}) would send.
    head_text = json.dumps(head, cls=DjangoJSONEncoder)
    return HttpResponse(f"{head_text[:-1]}, {body}}}", content_type="application/json")


@login_required
@require_POST
def dashboard_compute(request: HttpRequest, slug: str) -> JsonResponse:
    """Queue the computation of the page's filter set (the default set is kept fresh by the
    recomputations themselves). Answers 202 whether queued now or within the last 30 s.
    Only a role that edits the cohort's data may cause stored results; a statistician (read
    only) sees the sets others computed and the default set."""
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    if not has_role(request.user, *COMPUTING_ROLES):
        return JsonResponse({"error": "Your role reads stored results only."}, status=403)
    try:
        filters = _filters(request, cohort)
    except ParameterError as error:
        return _bad_filters(error)
    if parameters_key(filters) == parameters_key(analysis_parameters(None)):
        return JsonResponse({"queued": False}, status=200)
    request_key = f"iim:filter-request:{cohort.pk}:{parameters_key(filters)}"
    if cache.add(request_key, True, timeout=30):  # one request per filter set per 30 s
        request_parameter_set(cohort_id=cohort.pk, parameters=filters)
    return JsonResponse({"queued": True}, status=202)


SCOPED_ANALYSES = ("group_profile", "clinical_correlation", "patient_scores", "subtype_comparison")
DATA_CACHE_SECONDS = 3600
DATA_CACHE_VERSION = 2  # bump when the figures or tables built from a result change


def _data_cache_key(cohort: Any, sources: dict[str, AnalysisResult], *parts: Any) -> str:
    """Everything the figures and tables are built from: the results' identity and write
    times, the request's choices and the group names."""
    identity = [(a, r.pk, r.computed_at, r.updated_at) for a, r in sorted(sources.items())]
    text = json.dumps([DATA_CACHE_VERSION, cohort.pk, identity, *parts], default=str)
    return "iim:dashboard-data:" + hashlib.sha256(text.encode()).hexdigest()


def _result_heads(cohort: Any, key: str) -> dict[str, AnalysisResult]:
    """The stored results of one parameter set by analysis name, without their JSON."""
    return {
        r.analysis: r
        for r in AnalysisResult.objects.filter(cohort=cohort, parameters_key=key).defer("result")
    }


def _result_parts(sources: dict[str, AnalysisResult], scope: str) -> dict[str, Any]:
    """result[scope] of the scoped analyses and result["table"] of the descriptives, read
    from the database without the other scopes, and the patients' scatter fields from their
    stored rows. A result that lacks the key is read whole, so that it behaves exactly as
    before (default or KeyError)."""
    wanted = {a: ("table" if a == "descriptives" else scope) for a in sources}
    parts: dict[str, Any] = {}
    if "patient_scores" in wanted:
        parts["patient_scores"] = patient_row_fields(
            sources["patient_scores"].pk, scope, SCATTER_FIELDS
        )
        del wanted["patient_scores"]
    for part_key in set(wanted.values()):
        ids = [sources[a].pk for a, k in wanted.items() if k == part_key]
        for analysis, part in (
            AnalysisResult.objects.filter(pk__in=ids)
            .annotate(part=KeyTransform(part_key, "result"))
            .values_list("analysis", "part")
        ):
            parts[analysis] = part
    for analysis in sources:
        if parts.get(analysis) is None:
            whole = AnalysisResult.objects.get(pk=sources[analysis].pk).result
            if analysis == "descriptives":
                parts[analysis] = whole["table"]
            else:
                parts[analysis] = whole.get(scope, {})
    return parts


# Table 1's variables in words, with their units.
TABLE_ONE_LABELS = {
    "patients": "Patients",
    "sex": "Sex",
    "age": "Age at MRI (years)",
    "disease_duration_months": "Disease duration (months)",
    "mmt8": "MMT-8 (0–150)",
    "ck": "CK (U/L)",
    "treatment_naive": "Treatment-naive",
    "seronegative": "Seronegative",
    "antibody": "Antibody",
}

# Every field of a patient_scores row that figures.scatter reads.
SCATTER_FIELDS = ("pseudonym", "subtype", "total", "mmt8", "ck")


def _figures_and_tables(
    sources: dict[str, AnalysisResult],
    scope: str,
    stat: str,
    group: str,
    ck_log10: bool,
    names: list[tuple[str, str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = _result_parts(sources, scope)
    profile = parts["group_profile"]
    correlation = parts["clinical_correlation"]
    patients = parts["patient_scores"]
    comparison = parts["subtype_comparison"]
    drawn = {
        "heatmap": figures.heatmap(
            profile.get("group", []),
            stat=stat,
            names=names,
            scale=profile.get("scale"),
        ),
        "scatter_mmt8": figures.scatter(
            patients, correlation.get("fits", []), correlation.get("bands", []), outcome="mmt8"
        ),
        "scatter_ck": figures.scatter(
            patients,
            correlation.get("fits", []),
            correlation.get("bands", []),
            outcome="ck",
            log10_ck=ck_log10,
        ),
        "limbs": figures.limb_bars(profile.get("limb", [])),
        "dunn": figures.dunn_matrix(comparison.get("dunn", []), group),
    }
    labels = {slug: f"{region} · {name}" for slug, name, region in names}
    tables = {
        "kruskal": [
            {**row, "group_name": labels.get(row["group"], row["group"])}
            for row in comparison.get("kruskal", [])
        ],
        "descriptives": [
            {**row, "label": TABLE_ONE_LABELS.get(row["variable"], row["variable"])}
            for row in parts["descriptives"] or []
        ],
        "fits": correlation.get("fits", []),
    }
    return drawn, tables


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


def _status(state, results: dict, default: dict) -> dict[str, Any]:
    if state.recomputing:
        label = "recomputing"
    elif state.last_error:
        # The results on screen are not those of the current data: say so, never "fresh".
        label = "failed"
    elif state.stale:
        label = "stale"
    elif not results:
        label = "computing"
    else:
        label = "fresh"
    return {
        "label": label,
        "stale_since": state.stale_since and state.stale_since.isoformat(),
        "last_error": state.last_error,
        "now": timezone.now().isoformat(),
    }


@login_required
@require_GET
def dashboard_status(request: HttpRequest, slug: str) -> JsonResponse:
    """Polled every few seconds by every open dashboard: the results' heads only, not their
    JSON (a large cohort's patient scores are tens of megabytes)."""
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    try:
        filters = _filters(request, cohort)
    except ParameterError as error:
        return _bad_filters(error)
    results = _result_heads(cohort, parameters_key(filters))
    state = analytics_state(cohort=cohort)
    return JsonResponse(
        {"status": _status(state, results, {}), "computed_at": _computed_at(results)}
    )


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
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    try:
        results = stored_results(cohort=cohort, parameters=_filters(request, cohort))
    except ParameterError as error:
        return HttpResponseBadRequest(f"Unknown filter: {error}", content_type="text/plain")
    analysis, pick = CSV_SOURCES[figure]
    if analysis not in results:
        return HttpResponse("Not computed yet.", status=409, content_type="text/plain")
    scope = request.GET.get("scope", "unified")
    rows = pick(stored_result_value(results[analysis], scope), scope)
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: ("" if v is None else v) for k, v in row.items() if not isinstance(v, dict | list)}
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{cohort.slug}-{figure}.csv"'
    return response
