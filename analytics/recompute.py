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

import numpy as np
import orjson
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cohorts.models import Cohort
from iim_scoring.db.statements import (
    insert_rows,
    read_scores_upsert,
    use_lz4_compression,
)
from scoring.models import Read, ScoringProtocol

from . import stats
from .analyses import compute_analyses
from .frames import atlas_frame, grades_frames, patients_frame
from .models import AnalysisResult, CohortAnalyticsState, ReadScores
from .result_rows import patient_rows_replace, row_index, row_texts

BEYOND_ANALYSIS = "beyond_paper"
# Every stored analysis, by the name results are stored and asked for under.
ANALYSES = (
    "descriptives",
    "group_profile",
    "subtype_comparison",
    "clinical_correlation",
    "patient_scores",
    BEYOND_ANALYSIS,
)

logger = logging.getLogger(__name__)

CODE_VERSION = "2026.12.1"
CLAIM_TIMEOUT = timedelta(minutes=10)
READ_CHUNK = 2000  # reads scored and stored together
COPY_MIN_READS = 50  # more reads than this are stored through COPY
# Sub-scores stored beside the unified score: oedema (STIR only) and fat (T1 only).
SCOPES = {"unified": None, "stir": "STIR", "t1": "T1"}
DEFAULT_PARAMETERS: dict[str, Any] = {
    "correction": "holm",
    "ck_log10": False,
    "min_subgroup_n": None,  # filled from settings.ANALYTICS_MIN_SUBGROUP_N
    "min_comparison_n": None,  # filled from settings.ANALYTICS_MIN_COMPARISON_N
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


def _fingerprint(read_id: int, version: int, protocol: ScoringProtocol) -> str:
    """The hash of what a read's stored scores are computed from."""
    return _sha(
        [
            read_id,
            version,
            protocol.pk,
            protocol.sequence_combine,
            protocol.side_combine,
            protocol.stir_scale,
            protocol.t1_scale,
            CODE_VERSION,
        ]
    )


def _python_values(matrix: np.ndarray) -> list[list[float | None]]:
    """Rows of a float matrix as lists of Python floats, NaN as None."""
    cells = matrix.astype(object)
    cells[np.isnan(matrix)] = None
    return cells.tolist()


def _scores_payloads(
    per_scope: dict[str, stats.ScoreMatrices], read_ids: list[int]
) -> dict[int, dict[str, Any]]:
    """Each read's levels as {scope: {"muscle": {slug: s}, "group": ..., "total": x,
    "total_pct": p, "n_graded": k}}, built from the score matrices of all reads at once
    (exact values, never rounded: they are combined and ranked later; NaN as None)."""
    payloads: dict[int, dict[str, Any]] = {int(r): {} for r in read_ids}
    for scope, scores in per_scope.items():
        position = {read_id: i for i, read_id in enumerate(scores.reads["read_id"].tolist())}
        levels = {}
        for name in ("muscle", "group", "region", "limb"):
            level = getattr(scores, name)
            levels[name] = (level.labels[name].tolist(), _python_values(level.score))
        total_score = _python_values(scores.total.score[:, 0])
        total_pct = _python_values(scores.total.percent_of_max[:, 0])
        n_graded = scores.total.n[:, 0].tolist()
        for read_id, payload in payloads.items():
            i = position[read_id]
            level: dict[str, Any] = {
                name: dict(zip(labels, values[i], strict=True))
                for name, (labels, values) in levels.items()
            }
            level["total"] = total_score[i]
            level["total_pct"] = total_pct[i]
            level["n_graded"] = int(n_graded[i])
            payload[scope] = level
    return payloads


def _score_all_scopes(
    grades: pd.DataFrame, atlas: pd.DataFrame | stats.AtlasLayout, protocol: ScoringProtocol
) -> dict[str, stats.ScoreMatrices]:
    """Unified, STIR-only and T1-only scores from one grade cube."""
    cube = stats.grade_cube(grades, atlas)
    out = {}
    for scope, sequence in SCOPES.items():
        combine = sequence or protocol.sequence_combine
        if sequence is not None and sequence not in protocol.sequences:
            continue
        out[scope] = stats.score_cube(
            cube,
            combine=combine,
            sides=protocol.side_combine,
            scale_max=protocol.score_scale(scope).max,
        )
    return out


def _store_read_scores(
    fingerprints: dict[int, str], per_scope: dict[str, stats.ReadScoreFrames]
) -> None:
    payloads = _scores_payloads(per_scope, list(fingerprints))
    # COPY through a temporary table pays off for many reads; the few reads a grade save
    # changes go in one INSERT (no temporary table created and dropped per save).
    if len(fingerprints) > COPY_MIN_READS:
        _upsert_read_scores_postgres(fingerprints, payloads)
        return
    rows = []
    for read_id, fingerprint in fingerprints.items():
        payload = payloads[read_id]
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
        use_lz4_compression()
        insert_rows(
            rows,
            unique_fields=["read"],
            update_fields=["fingerprint", "scores", "total", "total_pct", "computed_at"],
        )


def _upsert_read_scores_postgres(
    fingerprints: dict[int, str], payloads: dict[int, dict[str, Any]]
) -> None:
    """The insert_rows upsert above, for many reads: through COPY (`read_scores_upsert`)."""
    now = timezone.now()
    with transaction.atomic():
        use_lz4_compression()
        read_scores_upsert(
            (
                (
                    read_id,
                    fingerprint,
                    payloads[read_id]["unified"]["total"],
                    payloads[read_id]["unified"]["total_pct"],
                    orjson.dumps(payloads[read_id], option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                )
                for read_id, fingerprint in fingerprints.items()
            ),
            computed_at=now,
        )


def cohort_read_scores_refresh(
    cohort: Cohort, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute every read of the cohort whose stored scores are missing or out of date,
    protocol by protocol in one vectorized pass each. Returns the number of reads recomputed."""
    # One query of plain values (not 10,000 model instances) says which reads are stale.
    reads = (
        Read.objects.filter(study__patient__cohort=cohort)
        .order_by("pk")
        .values_list("pk", "version", "protocol_id", "scores__fingerprint")
    )
    protocols: dict[int, ScoringProtocol] = {}
    stale: dict[int, dict[int, str]] = {}
    for read_id, version, protocol_id, stored in reads:
        protocol = protocols.get(protocol_id)
        if protocol is None:
            protocol = protocols[protocol_id] = ScoringProtocol.objects.get(pk=protocol_id)
        fingerprint = _fingerprint(read_id, version, protocol)
        if stored != fingerprint:
            stale.setdefault(protocol_id, {})[read_id] = fingerprint
    done = 0
    for protocol_id, batch in stale.items():
        protocol = protocols[protocol_id]
        atlas = stats.atlas_layout(atlas_frame(protocol))
        ids = list(batch)
        # Chunks keep memory flat on very large cohorts.
        chunks = [ids[start : start + READ_CHUNK] for start in range(0, len(ids), READ_CHUNK)]
        for chunk, grades in zip(chunks, grades_frames(chunks), strict=True):
            if grades.empty:
                done += len(chunk)
                continue
            per_scope = _score_all_scopes(grades, atlas, protocol)
            graded = set(grades["read_id"].unique().tolist())
            _store_read_scores({r: batch[r] for r in chunk if r in graded}, per_scope)
            done += len(chunk)
            if progress:
                progress(len(chunk))
    return done


def analysis_parameters(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    parameters = {**DEFAULT_PARAMETERS, **(overrides or {})}
    if parameters["min_subgroup_n"] is None:
        parameters["min_subgroup_n"] = settings.ANALYTICS_MIN_SUBGROUP_N
    if parameters["min_comparison_n"] is None:
        parameters["min_comparison_n"] = settings.ANALYTICS_MIN_COMPARISON_N
    return parameters


def input_fingerprint(cohort: Cohort, patients: pd.DataFrame | None = None) -> str:
    """What a cohort's analyses are computed from: every submitted read's score fingerprint
    and the clinical data. Equal fingerprints mean equal results."""
    reads = (
        ReadScores.objects.filter(
            read__study__patient__cohort=cohort, read__status=Read.Status.SUBMITTED
        )
        .exclude(read__kind=Read.Kind.TRAINING)  # never analysed
        .values_list("read_id", "fingerprint")
        .order_by("read_id")
    )
    if patients is None:
        patients = patients_frame(cohort)
    return _sha([list(reads), patients.to_json(orient="records", default_handler=str)])


def cohort_analyses_recompute(
    *,
    cohort_id: int,
    parameters: dict[str, Any] | None = None,
    force: bool = False,
    claim_token: str = "",
    progress: Callable[[int], None] | None = None,
) -> str:
    """Bring the cohort's read scores and analyses up to date.

    Returns what happened: "done", "unchanged" (same input fingerprint: nothing stored),
    "empty" (no patients yet), "busy" (another worker holds the claim; the caller tries
    again) or "missing".
    """
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    if cohort is None:
        return "missing"
    CohortAnalyticsState.objects.get_or_create(cohort=cohort)
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
        # The claim ends the wait of the queued task: requests from now on queue another.
        .update(recomputing=True, claimed_at=started, claimed_by=claim_token, queued_at=None)
    )
    if not claimed and not force:
        return "busy"
    try:
        cohort_read_scores_refresh(cohort, progress=progress)
        params = analysis_parameters(parameters)
        patients = patients_frame(cohort)
        if patients.empty:  # a new cohort: nothing to analyse until patients are enrolled
            _finish(cohort, started)
            return "empty"
        fingerprint = input_fingerprint(cohort, patients)
        params_key = parameters_key(params)
        current = list(
            AnalysisResult.objects.filter(
                cohort=cohort, parameters_key=params_key, status=AnalysisResult.Status.DONE
            )
            .exclude(analysis=BEYOND_ANALYSIS)  # its own task keeps it current
            .only("input_fingerprint", "code_version")
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
        results = compute_analyses(cohort, params, patients=patients)
        if settings.ANALYTICS_FAULT_DELAY_SECONDS:  # fault injection for the worker-kill tests
            time.sleep(settings.ANALYTICS_FAULT_DELAY_SECONDS)
        now = timezone.now()
        # All analyses of one input land together: nothing partial is ever shown.
        with transaction.atomic():
            use_lz4_compression()
            for name, result in results.items():
                analysis_result_store(cohort, name, params_key, params, fingerprint, result, now)
        _finish(cohort, started)
        return "done"
    except Exception as exc:
        CohortAnalyticsState.objects.filter(pk=cohort.pk).update(
            recomputing=False, claimed_by="", last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.exception("analytics recompute failed cohort_id=%s", cohort.pk)
        raise


_RESULT_FIELDS = (
    "parameters",
    "input_fingerprint",
    "code_version",
    "status",
    "message",
    "result",
    "computed_at",
    "updated_at",
)


def analysis_result_store(
    cohort: Cohort,
    analysis: str,
    params_key: str,
    params: dict[str, Any],
    fingerprint: str,
    result: Any,
    now: datetime,
) -> None:
    """update_or_create of one stored result, without reading the old result's JSON back
    (inside the caller's transaction). Per-patient rows go to their own table."""
    texts = row_texts(result) if analysis in ROW_ANALYSES else None
    stored = AnalysisResult(
        cohort=cohort,
        analysis=analysis,
        parameters_key=params_key,
        parameters=params,
        input_fingerprint=fingerprint,
        code_version=CODE_VERSION,
        status=AnalysisResult.Status.DONE,
        message="",
        result=result if texts is None else row_index(texts),
        computed_at=now,
    )
    # One upsert: no read of the old row, and the JSON is encoded and sent once.
    insert_rows(
        [stored],
        unique_fields=("cohort", "analysis", "parameters_key"),
        update_fields=_RESULT_FIELDS,
    )
    if texts is not None:
        patient_rows_replace(stored.pk, texts)


# Results whose per-patient rows live in PatientScoreRow.
ROW_ANALYSES = ("patient_scores",)


def _finish(cohort: Cohort, started: datetime) -> None:
    # Fresh only if no change was requested after this run started.
    CohortAnalyticsState.objects.filter(pk=cohort.pk).filter(
        Q(requested_at__isnull=True) | Q(requested_at__lte=started)
    ).update(stale=False, stale_since=None)
    CohortAnalyticsState.objects.filter(pk=cohort.pk).update(
        recomputing=False, claimed_by="", last_completed_at=timezone.now(), last_error=""
    )
