"""Per-patient profile for clinicians and coordinators (never radiologists): muscle and group
scores from the stored read scores, clinical values and timepoints."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.selectors import dashboard_cohort_get, patient_level_scores, patient_read_scores
from cohorts.roles import CLINICIAN, COORDINATOR, has_role
from cohorts.selectors import patient_get_for_user
from dashboards.figures import LAYOUT
from scoring.models import Muscle


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
    # Readers combined as in the exports and the analyses (one rule, analytics.selectors).
    stored = patient_read_scores([patient.pk])
    not_pooled = stored.mixed_scales()
    scores = {} if not_pooled else stored.patient_scores()
    top = stored.scales["unified"][0].max if "unified" in stored.scales else 2
    by_level = {
        level: patient_level_scores(scores, "unified", level) for level in ("muscle", "group")
    }
    timepoints = []
    for study in patient.studies.order_by("timepoint"):
        visit = {
            level: frame[(frame["timepoint"] == study.timepoint) & frame["score"].notna()]
            for level, frame in by_level.items()
        }
        muscle_scores = dict(zip(visit["muscle"]["muscle"], visit["muscle"]["score"], strict=True))
        group_scores = dict(zip(visit["group"]["group"], visit["group"]["score"], strict=True))
        if not muscle_scores:
            timepoints.append({"study": study, "figure": None, "n_reads": 0})
            continue
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
                "xaxis": {"range": [0, top], "title": {"text": f"muscle score (0–{top})"}},
                "xaxis2": {"range": [0, top], "title": {"text": f"group score (0–{top})"}},
                "yaxis": {"autorange": "reversed", "automargin": True, "tickfont": {"size": 9}},
                "yaxis2": {"autorange": "reversed", "automargin": True},
            },
        }
        total = sum(muscle_scores.values())
        timepoints.append(
            {
                "study": study,
                "figure": json.dumps(figure),
                "n_reads": int(visit["muscle"]["n_reads"].max()),
                "total": total,
                "source": (
                    "consensus"
                    if (visit["muscle"]["source"] == "consensus").any()
                    else "mean of readers"
                ),
            }
        )
    return render(
        request,
        "analytics/patient_profile.html",
        {
            "cohort": cohort,
            "patient": patient,
            "timepoints": timepoints,
            "not_pooled": not_pooled,
            "assessments": patient.assessments.order_by("timepoint"),
        },
    )
