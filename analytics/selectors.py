"""Who sees which stored results, and the stored results a dashboard shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from cohorts.models import Cohort
from cohorts.roles import CLINICIAN, COORDINATOR, STATISTICIAN, has_role
from cohorts.selectors import cohort_get_for_user
from scoring.models import Read

from . import stats
from .models import AnalysisResult, CohortAnalyticsState, ReadScores
from .recompute import BEYOND_ANALYSIS, analysis_parameters, parameters_key

DASHBOARD_ROLES = (CLINICIAN, COORDINATOR, STATISTICIAN)


def dashboard_cohort_get(*, slug: str, user: AbstractBaseUser | AnonymousUser) -> Cohort:
    """The cohort if the user may see its dashboard (clinician, coordinator, statistician and a
    member); 404 otherwise, radiologists included."""
    if not has_role(user, *DASHBOARD_ROLES):
        raise Http404("No such cohort.")
    return cohort_get_for_user(slug=slug, user=user)


def stored_results(
    *, cohort: Cohort, parameters: dict[str, Any] | None = None
) -> dict[str, AnalysisResult]:
    """The stored results of one parameter set (the default when None), by analysis name."""
    key = parameters_key(analysis_parameters(parameters))
    return {r.analysis: r for r in AnalysisResult.objects.filter(cohort=cohort, parameters_key=key)}


def analytics_state(*, cohort: Cohort) -> CohortAnalyticsState:
    """The cohort's recomputation state; a cohort never recomputed has an unsaved blank one
    (a selector stores nothing)."""
    state = CohortAnalyticsState.objects.filter(cohort=cohort).first()
    return state if state is not None else CohortAnalyticsState(cohort=cohort)


@dataclass(frozen=True)
class CohortBackgroundWork:
    cohort: Cohort
    state: CohortAnalyticsState
    beyond: AnalysisResult | None
    imports: list[Any]


def background_work_for_cohorts(*, cohorts: list[Cohort]) -> list[CohortBackgroundWork]:
    """Per cohort (already filtered to what the user may see): the recomputation state, the
    beyond-the-paper result's status, and the five latest DICOM import jobs."""
    from cohorts.models import DicomImportJob

    out = []
    for cohort in cohorts:
        beyond = (
            AnalysisResult.objects.filter(cohort=cohort, analysis=BEYOND_ANALYSIS)
            .only("status", "message", "computed_at", "input_fingerprint")
            .order_by("-updated_at")
            .first()
        )
        imports = list(
            DicomImportJob.objects.filter(cohort=cohort)
            .select_related("created_by")
            .order_by("-created_at")[:5]
        )
        out.append(CohortBackgroundWork(cohort, analytics_state(cohort=cohort), beyond, imports))
    return out


# --- stored read scores with readers combined (exports, the patient profile) ---------------


def submitted_read_scores(patient_ids: Sequence[int]) -> list[tuple]:
    """Stored scores of the submitted reads of these patients (re-reads left out, as in the
    cohort analyses): (patient_id, timepoint, is_consensus, scores)."""
    rows = (
        ReadScores.objects.filter(
            read__study__patient_id__in=list(patient_ids), read__status=Read.Status.SUBMITTED
        )
        .exclude(read__kind=Read.Kind.REREAD)
        .values_list("read__study__patient_id", "read__study__timepoint", "read__kind", "scores")
    )
    return [(p, t, kind == Read.Kind.CONSENSUS, scores) for p, t, kind, scores in rows]


def combined_level_scores(stored: list[tuple], scope: str, level: str) -> pd.DataFrame:
    """One level of the stored scores with readers combined (consensus, else reader mean)."""
    records = [
        (patient_id, timepoint, consensus, label, value)
        for patient_id, timepoint, consensus, scores in stored
        if scope in scores
        for label, value in scores[scope][level].items()
    ]
    frame = pd.DataFrame(
        records, columns=["patient_id", "timepoint", "is_consensus", level, "score"]
    ).astype({"score": float})
    if frame.empty:
        return pd.DataFrame(
            columns=["patient_id", "timepoint", level, "score", "n_reads", "source"]
        )
    return stats.combine_reader_frame(frame, [level])


def combined_totals(stored: list[tuple], scope: str) -> pd.DataFrame:
    """The total and percent of maximum with readers combined (consensus, else reader mean)."""
    records = [
        (p, t, c, scores[scope]["total"], scores[scope]["total_pct"])
        for p, t, c, scores in stored
        if scope in scores
    ]
    frame = pd.DataFrame(
        records, columns=["patient_id", "timepoint", "is_consensus", "score", "percent_of_max"]
    ).astype({"score": float, "percent_of_max": float})
    if frame.empty:
        return pd.DataFrame(
            columns=["patient_id", "timepoint", "score", "percent_of_max", "n_reads", "source"]
        )
    return stats.combine_reader_frame(frame, [])
