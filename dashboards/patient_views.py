"""Per-patient profile for clinicians and coordinators (never radiologists): muscle and group
scores from the stored read scores, clinical values and timepoints."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.models import ReadScores
from analytics.selectors import dashboard_cohort_get
from cohorts.roles import CLINICIAN, COORDINATOR, has_role
from cohorts.selectors import patient_get_for_user
from dashboards.figures import LAYOUT
from scoring.models import Muscle, Read


def _combined(scores: list[dict], level: str) -> dict[str, float]:
    """Mean over the given reads' stored scores at one level (NA skipped)."""
    sums: dict[str, list[float]] = {}
    for payload in scores:
        for key, value in payload.get(level, {}).items():
            if value is not None:
                sums.setdefault(key, []).append(value)
    return {k: sum(v) / len(v) for k, v in sums.items()}


@login_required
def patient_profile(request: HttpRequest, slug: str, pseudonym: str) -> HttpResponse:
    if not has_role(request.user, CLINICIAN, COORDINATOR):
        raise PermissionDenied
    cohort = dashboard_cohort_get(slug=slug, user=request.user)
    patient = patient_get_for_user(user=request.user, cohort=cohort, pseudonym=pseudonym)
    muscles = list(
        Muscle.objects.select_related("group__region").order_by(
            "group__region__order", "group__order", "order"
        )
    )
    timepoints = []
    for study in patient.studies.order_by("timepoint"):
        reads = Read.objects.filter(study=study, status=Read.Status.SUBMITTED).exclude(
            kind=Read.Kind.REREAD
        )
        consensus = reads.filter(kind=Read.Kind.CONSENSUS)
        chosen = consensus if consensus.exists() else reads
        stored = [s.scores.get("unified", {}) for s in ReadScores.objects.filter(read__in=chosen)]
        if not stored:
            timepoints.append({"study": study, "figure": None, "n_reads": 0})
            continue
        muscle_scores = _combined(stored, "muscle")
        group_scores = _combined(stored, "group")
        labels = [m.name for m in muscles if m.slug in muscle_scores]
        values = [muscle_scores[m.slug] for m in muscles if m.slug in muscle_scores]
        groups = [m.group for m in muscles]
        group_order = list(dict.fromkeys(g for g in groups if g.slug in group_scores))
        figure = {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": labels,
                    "x": values,
                    "name": "muscle score",
                    "marker": {"color": "#d6604d"},
                    "xaxis": "x",
                    "yaxis": "y",
                },
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [g.name for g in group_order],
                    "x": [group_scores[g.slug] for g in group_order],
                    "name": "group score",
                    "marker": {"color": "#4393c3"},
                    "xaxis": "x2",
                    "yaxis": "y2",
                },
            ],
            "layout": {
                **LAYOUT,
                "height": max(500, 14 * len(labels)),
                "showlegend": False,
                "grid": {"rows": 1, "columns": 2, "pattern": "independent"},
                "xaxis": {"range": [0, 2], "title": {"text": "muscle score (0–2)"}},
                "xaxis2": {"range": [0, 2], "title": {"text": "group score (0–2)"}},
                "yaxis": {"autorange": "reversed", "automargin": True, "tickfont": {"size": 9}},
                "yaxis2": {"autorange": "reversed", "automargin": True},
            },
        }
        total = sum(muscle_scores.values())
        timepoints.append(
            {
                "study": study,
                "figure": json.dumps(figure),
                "n_reads": len(stored),
                "total": total,
                "source": "consensus" if consensus.exists() else "mean of readers",
            }
        )
    return render(
        request,
        "analytics/patient_profile.html",
        {
            "cohort": cohort,
            "patient": patient,
            "timepoints": timepoints,
            "assessments": patient.assessments.order_by("timepoint"),
        },
    )
