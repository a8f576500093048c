"""Recompute and store scores and cohort analyses (called by tasks and `manage.py recompute`).

Two stages, so one grade change never recomputes a whole cohort's grades:
1. read scores: each read's grades → `ReadScores` (every level; unified, STIR-only, T1-only),
   only for reads whose fingerprint (their version and the protocol's rules) changed;
2. cohort analyses: the stored read scores of submitted reads + clinical data → one
   `AnalysisResult` per analysis; skipped when the input fingerprint is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cohorts.models import Cohort
from scoring.models import Read, ScoringProtocol

from . import stats
from .analyses import compute_analyses
from .frames import atlas_frame, grades_frame, patients_frame
from .models import AnalysisResult, CohortAnalyticsState, ReadScores

logger = logging.getLogger(__name__)

CODE_VERSION = "2026.11.1"
CLAIM_TIMEOUT = timedelta(minutes=10)
# Sub-scores stored beside the unified score: oedema (STIR only) and fat (T1 only).
SCOPES = {"unified": None, "stir": "STIR", "t1": "T1"}
DEFAULT_PARAMETERS: dict[str, Any] = {
    "correction": "holm",
    "ck_log10": False,
    "min_subgroup_n": None,  # filled from settings.ANALYTICS_MIN_SUBGROUP_N
    "timepoint": "baseline",
    # Dashboard filters; empty = everything. Each filter set is its own stored result.
    "sites": [],
    "subtypes": [],
    "readers": [],
    "protocol": None,
}


def _sha(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def parameters_key(parameters: dict[str, Any]) -> str:
    """One stored result per parameter set: the hash of its canonical JSON."""
    return _sha(parameters)


def read_fingerprint(read: Read, protocol: ScoringProtocol) -> str:
    return _sha(
        [
            read.pk,
            read.version,
            protocol.pk,
            protocol.sequence_combine,
            protocol.side_combine,
            CODE_VERSION,
        ]
    )


def _scores_payload(per_scope: dict[str, stats.ReadScores], read_id: int) -> dict[str, Any]:
    """One read's levels as {scope: {"muscle": {slug: s}, "group": ..., "total": x, ...}}."""
    payload: dict[str, Any] = {}
    for scope, scores in per_scope.items():
        level = {}
        for name, key in (
            ("muscle", "muscle"),
            ("group", "group"),
            ("region", "region"),
            ("limb", "limb"),
        ):
            frame = getattr(scores, name)
            frame = frame[frame["read_id"] == read_id]
            level[name] = {
                k: (None if pd.isna(v) else round(float(v), 6))
                for k, v in zip(frame[key], frame["score"], strict=True)
            }
        total = scores.total[scores.total["read_id"] == read_id].iloc[0]
        level["total"] = None if pd.isna(total["score"]) else float(total["score"])
        level["total_pct"] = (
            None if pd.isna(total["percent_of_max"]) else float(total["percent_of_max"])
        )
        level["n_graded"] = int(total["n_muscles"])
        payload[scope] = level
    return payload


def _score_all_scopes(
    grades: pd.DataFrame, atlas: pd.DataFrame, protocol: ScoringProtocol
) -> dict[str, stats.ReadScores]:
    out = {}
    for scope, sequence in SCOPES.items():
        combine = sequence or protocol.sequence_combine
        if sequence is not None and sequence not in protocol.sequences:
            continue
        out[scope] = stats.score_reads(grades, atlas, combine=combine, sides=protocol.side_combine)
    return out


def _store_read_scores(
    fingerprints: dict[int, str], per_scope: dict[str, stats.ReadScores]
) -> None:
    rows = []
    for read_id, fingerprint in fingerprints.items():
        payload = _scores_payload(per_scope, read_id)
        unified = payload["unified"]
        rows.append(
            ReadScores(
                read_id=read_id,
                fingerprint=fingerprint,
                scores=payload,
                total=unified["total"],
                total_pct=unified["total_pct"],
            )
        )
    with transaction.atomic():
        ReadScores.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["read"],
            update_fields=["fingerprint", "scores", "total", "total_pct", "computed_at"],
            batch_size=1000,
        )


def cohort_read_scores_refresh(
    cohort: Cohort, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute every read of the cohort whose stored scores are missing or out of date,
    protocol by protocol in one vectorized pass each. Returns the number of reads recomputed."""
    reads = list(Read.objects.filter(study__patient__cohort=cohort).select_related("protocol"))
    stored = dict(ReadScores.objects.filter(read__in=reads).values_list("read_id", "fingerprint"))
    stale: dict[int, list[Read]] = {}
    for read in reads:
        if stored.get(read.pk) != read_fingerprint(read, read.protocol):
            stale.setdefault(read.protocol_id, []).append(read)
    done = 0
    for batch in stale.values():
        protocol = batch[0].protocol
        atlas = atlas_frame(protocol)
        # Chunks keep memory flat on very large cohorts.
        for start in range(0, len(batch), 2000):
            chunk = batch[start : start + 2000]
            grades = grades_frame(chunk)
            if grades.empty:
                done += len(chunk)
                continue
            per_scope = _score_all_scopes(grades, atlas, protocol)
            graded = set(grades["read_id"].unique())
            _store_read_scores(
                {r.pk: read_fingerprint(r, protocol) for r in chunk if r.pk in graded}, per_scope
            )
            done += len(chunk)
            if progress:
                progress(len(chunk))
    return done


def analysis_parameters(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    parameters = {**DEFAULT_PARAMETERS, **(overrides or {})}
    if parameters["min_subgroup_n"] is None:
        parameters["min_subgroup_n"] = settings.ANALYTICS_MIN_SUBGROUP_N
    return parameters


def _input_fingerprint(cohort: Cohort) -> str:
    reads = (
        ReadScores.objects.filter(
            read__study__patient__cohort=cohort, read__status=Read.Status.SUBMITTED
        )
        .values_list("read_id", "fingerprint")
        .order_by("read_id")
    )
    patients = patients_frame(cohort)
    return _sha([list(reads), patients.to_json(orient="records", default_handler=str)])


def cohort_analyses_recompute(
    *,
    cohort_id: int,
    parameters: dict[str, Any] | None = None,
    force: bool = False,
    requested_at: datetime | None = None,
    claim_token: str = "",
    progress: Callable[[int], None] | None = None,
) -> str:
    """Bring the cohort's read scores and analyses up to date.

    Returns what happened: "done", "unchanged" (same input fingerprint: nothing stored),
    "superseded" (a newer request is queued and will do the work), "busy" (another worker
    holds the claim) or "missing".
    """
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    if cohort is None:
        return "missing"
    state, _ = CohortAnalyticsState.objects.get_or_create(cohort=cohort)
    if requested_at is not None and state.requested_at and state.requested_at > requested_at:
        return "superseded"
    started = timezone.now()
    # One worker per cohort. A task redelivered after its worker was killed carries the same
    # id and takes its own claim over; a claim older than CLAIM_TIMEOUT is taken over too.
    unclaimed = (
        Q(recomputing=False)
        | Q(claimed_at__lt=started - CLAIM_TIMEOUT)
        | Q(claimed_at__isnull=True)
    )
    if claim_token:
        unclaimed |= Q(claimed_by=claim_token)
    claimed = (
        CohortAnalyticsState.objects.filter(pk=cohort.pk)
        .filter(unclaimed)
        .update(recomputing=True, claimed_at=started, claimed_by=claim_token)
    )
    if not claimed and not force:
        return "busy"
    try:
        cohort_read_scores_refresh(cohort, progress=progress)
        params = analysis_parameters(parameters)
        fingerprint = _input_fingerprint(cohort)
        params_key = parameters_key(params)
        current = list(
            AnalysisResult.objects.filter(
                cohort=cohort, parameters_key=params_key, status=AnalysisResult.Status.DONE
            ).only("input_fingerprint", "code_version")
        )
        if (
            not force
            and current
            and all(
                r.input_fingerprint == fingerprint and r.code_version == CODE_VERSION
                for r in current
            )
        ):
            _finish(cohort, started)
            return "unchanged"
        results = compute_analyses(cohort, params)
        if settings.ANALYTICS_FAULT_DELAY_SECONDS:  # fault injection for the worker-kill tests
            time.sleep(settings.ANALYTICS_FAULT_DELAY_SECONDS)
        now = timezone.now()
        # All analyses of one input land together: nothing partial is ever shown.
        with transaction.atomic():
            for analysis, result in results.items():
                AnalysisResult.objects.update_or_create(
                    cohort=cohort,
                    analysis=analysis,
                    parameters_key=params_key,
                    defaults={
                        "parameters": params,
                        "input_fingerprint": fingerprint,
                        "code_version": CODE_VERSION,
                        "status": AnalysisResult.Status.DONE,
                        "message": "",
                        "result": result,
                        "computed_at": now,
                    },
                )
        _finish(cohort, started)
        return "done"
    except Exception as exc:
        CohortAnalyticsState.objects.filter(pk=cohort.pk).update(
            recomputing=False, claimed_by="", last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.exception("analytics recompute failed cohort_id=%s", cohort.pk)
        raise


def _finish(cohort: Cohort, started: datetime) -> None:
    # Fresh only if no change was requested after this run started.
    CohortAnalyticsState.objects.filter(pk=cohort.pk).filter(
        Q(requested_at__isnull=True) | Q(requested_at__lte=started)
    ).update(stale=False, stale_since=None)
    CohortAnalyticsState.objects.filter(pk=cohort.pk).update(
        recomputing=False, claimed_by="", last_completed_at=timezone.now(), last_error=""
    )
