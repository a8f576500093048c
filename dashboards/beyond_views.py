"""The dashboard's "beyond the paper" sections: agreement, asymmetry, trajectories, patterns."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from analytics.models import AnalysisResult
from analytics.selectors import dashboard_cohort_get, stored_results
from dashboards import figures_beyond


@login_required
@require_GET
def beyond_data(request: HttpRequest, slug: str) -> JsonResponse:
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    stored = stored_results(cohort=cohort).get("beyond_paper")
    if stored is None:
        return JsonResponse({"available": False, "message": "Not computed yet."})
    if stored.status == AnalysisResult.Status.FAILED:
        # Never the previous figures as if they were current: say it failed, and why.
        return JsonResponse(
            {"available": False, "failed": True, "message": f"Failed: {stored.message}"}
        )
    result = stored.result or {}
    if result.get("status") == "no data":
        return JsonResponse({"available": False, "message": result.get("message", "No data.")})
    return JsonResponse(
        {
            "available": True,
            "computed_at": stored.computed_at and stored.computed_at.isoformat(),
            "agreement": result.get("agreement", {}),
            "asymmetry_summary": (result.get("asymmetry") or {}).get("by_subtype"),
            "figures": {
                name: figure
                for name, figure in {
                    "asymmetry": figures_beyond.asymmetry_bars(result.get("asymmetry", {})),
                    "trajectories": figures_beyond.trajectories(result.get("longitudinal", {})),
                    "clustered": figures_beyond.clustered_heatmap(result.get("patterns", {})),
                    "classifier": figures_beyond.confusion(result.get("patterns", {})),
                }.items()
                if figure is not None
            },
            "notes": {
                "asymmetry": (result.get("asymmetry") or {}).get("status"),
                "longitudinal": figures_beyond.change_per_year_note(result.get("longitudinal", {})),
                "patterns": (result.get("patterns") or {}).get("status"),
            },
        }
    )
