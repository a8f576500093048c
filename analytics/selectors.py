"""Who sees which stored results, and the stored results a dashboard shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from cohorts.models import Cohort
from cohorts.roles import CLINICIAN, COORDINATOR, STATISTICIAN, has_role
from cohorts.selectors import cohort_get_for_user
from scoring.models import Read, ScoringProtocol
from scoring.scales import DEFAULT_SCALE, GradeScale, scale_named

from . import stats
from .analyses import StoredReadScores, read_scores_of
from .models import AnalysisResult, CohortAnalyticsState
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


def _analysed_reads(protocol: str = "", **lookup: Any) -> QuerySet[Read]:
    reads = Read.objects.filter(status=Read.Status.SUBMITTED, **lookup).exclude(
        kind__in=[Read.Kind.REREAD, Read.Kind.TRAINING]
    )
    return reads.filter(protocol__slug=protocol) if protocol else reads


def patient_read_scores(patient_ids: Sequence[int], *, protocol: str = "") -> StoredReadScores:
    """The stored muscle scores of these patients' submitted reads (re-reads left out), of one
    protocol's reads if given, with the scales they are on."""
    return read_scores_of(_analysed_reads(protocol, study__patient_id__in=list(patient_ids)))


def patient_scores(
    patient_ids: Sequence[int], *, protocol: str = ""
) -> dict[str, stats.PatientScores]:
    """Per scope, the scores of these patients with readers combined as in the analyses
    (`stats.combine_reads`). MixedScales when reads on different scales would pool."""
    return patient_read_scores(patient_ids, protocol=protocol).patient_scores()


def score_scales(cohort: Cohort, *, protocol: str = "") -> dict[str, list[GradeScale]]:
    """Per scope (unified, stir, t1), the grading scales of the cohort's analysed reads (of
    one protocol if given): one scale per scope unless protocols on different scales were
    used. With no read yet, the cohort's protocol's (or the paper's) scales."""
    protocols = ScoringProtocol.objects.filter(
        pk__in=_analysed_reads(protocol, study__patient__cohort=cohort).values("protocol_id")
    )
    if not protocols and not protocol:
        protocols = ScoringProtocol.objects.filter(cohortprotocol__cohort=cohort)
    scales: dict[str, list[GradeScale]] = {}
    for scope in ("unified", "stir", "t1"):
        found = {p.score_scale(scope) for p in protocols} or {scale_named(DEFAULT_SCALE)}
        scales[scope] = sorted(found, key=lambda scale: scale.key)
    return scales


def patient_level_scores(
    scores: dict[str, stats.PatientScores], scope: str, level: str
) -> pd.DataFrame:
    """One level of `patient_scores` (an empty frame when the scope has no scored read)."""
    if scope in scores:
        return getattr(scores[scope], level)
    labels = {"muscle": ["muscle"], "group": ["group"], "region": ["region"]}.get(level, [])
    return pd.DataFrame(
        columns=["patient_id", "timepoint", *labels, "score", "percent_of_max", "n_reads"]
    )
