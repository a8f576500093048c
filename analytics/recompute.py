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
import threading
import time
from collections import OrderedDict
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
from .analyses import (
    compute_analyses,
    forget_stored_scores,
    jsonb_key_order,
    remember_stored_scores,
)
from .frames import atlas_rows, grades_frames, patients_frame
from .models import AnalysisResult, CohortAnalyticsState, ReadScores
from .result_rows import (
    RowTexts,
    patient_rows_patch,
    patient_rows_replace,
    row_index,
    row_texts,
)

BEYOND_ANALYSIS = "beyond_paper"

logger = logging.getLogger(__name__)

CODE_VERSION = "2026.11.1"
CLAIM_TIMEOUT = timedelta(minutes=10)
READ_CHUNK = 2000  # reads scored and stored together
COPY_MIN_READS = 50  # more reads than this are stored through COPY
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


_fingerprints: dict[int, tuple[tuple, str]] = {}  # read id -> (inputs, fingerprint)


def _fingerprint(read_id: int, version: int, protocol: ScoringProtocol) -> str:
    """The hash of what a read's stored scores are computed from, remembered per read in this
    process (a 10,000-read cohort asks for every read's on each recomputation)."""
    inputs = (version, protocol.pk, protocol.sequence_combine, protocol.side_combine)
    known = _fingerprints.get(read_id)
    if known is not None and known[0] == inputs:
        return known[1]
    fingerprint = _sha(
        [
            read_id,
            version,
            protocol.pk,
            protocol.sequence_combine,
            protocol.side_combine,
            CODE_VERSION,
        ]
    )
    _fingerprints[read_id] = (inputs, fingerprint)
    return fingerprint


def _round6(values: np.ndarray) -> np.ndarray:
    """`round(float(v), 6)` of every value, vectorised. np.round agrees with Python's
    correctly rounded round() except within rounding error of a tie: those few go through
    round() itself."""
    out = np.round(values, 6)
    scaled = values * 1e6
    with np.errstate(invalid="ignore"):
        near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for index in np.flatnonzero(near_tie):
        out.flat[index] = round(float(values.flat[index]), 6)
    return out


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
    (level scores rounded to 6 decimals, NaN as None)."""
    payloads: dict[int, dict[str, Any]] = {int(r): {} for r in read_ids}
    for scope, scores in per_scope.items():
        position = {read_id: i for i, read_id in enumerate(scores.reads["read_id"].tolist())}
        levels = {}
        for name in ("muscle", "group", "region", "limb"):
            level = getattr(scores, name)
            levels[name] = (level.labels[name].tolist(), _python_values(_round6(level.score)))
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


_layouts: OrderedDict[tuple, stats.AtlasLayout] = OrderedDict()


def _atlas_layout(protocol: ScoringProtocol) -> stats.AtlasLayout:
    """The protocol's atlas, checked and laid out once per content in this process (a save's
    recomputation scores one read: the layout would cost more than the scoring)."""
    rows = atlas_rows(protocol)
    key = (protocol.pk, tuple(rows))
    layout = _layouts.get(key)
    if layout is None:
        layout = stats.atlas_layout(pd.DataFrame(rows, columns=list(stats.scores.ATLAS_COLUMNS)))
        _layouts[key] = layout
        while len(_layouts) > 16:
            _layouts.popitem(last=False)
    return layout


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
        out[scope] = stats.score_cube(cube, combine=combine, sides=protocol.side_combine)
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
        stored = read_scores_upsert(
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
    # The analyses that follow read these scores back: hand them over as they would come back
    # (no muscle level, jsonb's key order), saving the round trip of ~60 MB of JSON.
    remember_stored_scores(
        {
            read_id: (fingerprint, written, _as_read_back(payloads[read_id]))
            for read_id, fingerprint, written in stored
        }
    )


def _as_read_back(payload: dict[str, Any]) -> dict[str, Any]:
    """A read's stored scores as `analyses._load_frames` reads them from Postgres."""
    return jsonb_key_order(
        {
            scope: jsonb_key_order(
                {
                    name: jsonb_key_order(value) if isinstance(value, dict) else value
                    for name, value in levels.items()
                    if name != "muscle"
                }
            )
            for scope, levels in payload.items()
        }
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
        atlas = _atlas_layout(protocol)
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
    return parameters


def input_fingerprint(cohort: Cohort, patients: pd.DataFrame | None = None) -> str:
    """What a cohort's analyses are computed from: every submitted read's score fingerprint
    and the clinical data. Equal fingerprints mean equal results."""
    reads = (
        ReadScores.objects.filter(
            read__study__patient__cohort=cohort, read__status=Read.Status.SUBMITTED
        )
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
    finally:
        forget_stored_scores()


def cohort_analyses_warm(cohort: Cohort) -> bool:
    """Load into this process what a grade change's recomputation reuses: the cohort's stored
    read scores, the analyses of its default parameter set, and which per-patient rows are
    stored (so the first change after a worker's start is patched in like every other one).
    Nothing is stored. The rows are taken as known only if the stored result was computed
    from the input these analyses were (same fingerprint before and after computing them, and
    the stored one); False otherwise."""
    params = analysis_parameters()
    key = parameters_key(params)
    patients = patients_frame(cohort)
    if patients.empty:
        return False
    before = input_fingerprint(cohort, patients)
    results = compute_analyses(cohort, params, patients=patients)
    if input_fingerprint(cohort) != before:
        return False  # changed meanwhile: the recomputation it asked for will catch up
    stored = AnalysisResult.objects.filter(
        cohort=cohort,
        parameters_key=key,
        analysis__in=ROW_ANALYSES,
        status=AnalysisResult.Status.DONE,
        input_fingerprint=before,
        code_version=CODE_VERSION,
    ).only("analysis", "computed_at")
    known = False
    for result in stored:
        texts = row_texts(results.get(result.analysis))
        if texts is not None:
            _remember_stored((cohort.pk, result.analysis, key), result.computed_at, texts)
            known = True
    return known


def recently_computed_cohorts(limit: int = 4) -> list[Cohort]:
    """The cohorts whose default results were stored last, newest first."""
    latest = (
        AnalysisResult.objects.filter(
            analysis__in=ROW_ANALYSES,
            parameters_key=parameters_key(analysis_parameters()),
            status=AnalysisResult.Status.DONE,
        )
        .order_by("-computed_at")
        .values_list("cohort_id", flat=True)[:limit]
    )
    by_id = Cohort.objects.in_bulk(list(latest))
    return [by_id[pk] for pk in latest if pk in by_id]


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
    (inside the caller's transaction). Per-patient rows go to their own table; when this
    process wrote them last, only the rows that changed are sent."""
    memo_key = (cohort.pk, analysis, params_key)
    texts = row_texts(result) if analysis in ROW_ANALYSES else None
    if texts is not None and _patch_result(memo_key, params, fingerprint, texts, now):
        _remember_stored(memo_key, now, texts)
        return
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
        _remember_stored(memo_key, now, texts)


# The per-patient rows this process stored last, per (cohort, analysis, parameters key), with
# the computed_at it stored them with: the next store sends only the rows that changed, if
# the stored result still has that computed_at (nobody else wrote it since). Rows are
# compared by their JSON text.
ROW_ANALYSES = ("patient_scores",)
_PATCH_MAX_ROWS = 1000  # more changed rows are stored by replacing them all
_MEMO_SIZE = 4
_stored_memo: OrderedDict[tuple, tuple[datetime, RowTexts]] = OrderedDict()


_memo_lock = threading.Lock()  # a worker's warm-up thread remembers rows too


def _remember_stored(memo_key: tuple, computed_at: datetime, texts: RowTexts) -> None:
    with _memo_lock:
        _stored_memo[memo_key] = (computed_at, texts)
        _stored_memo.move_to_end(memo_key)
        while len(_stored_memo) > _MEMO_SIZE:
            _stored_memo.popitem(last=False)


def _row_changes(old: RowTexts, new: RowTexts) -> list[tuple[str, int, bytes]] | None:
    """[(scope, position, new row's text)] of the rows that differ, or None if the scopes or
    a scope's length changed or too many rows did."""
    if list(old) != list(new):
        return None
    changes = []
    for scope, rows in new.items():
        before = old[scope]
        if len(rows) != len(before):
            return None
        changes += [
            (scope, position, b)
            for position, (a, b) in enumerate(zip(before, rows, strict=True))
            if a != b
        ]
        if len(changes) > _PATCH_MAX_ROWS:
            return None
    return changes


def _patch_result(
    memo_key: tuple, params: dict[str, Any], fingerprint: str, texts: RowTexts, now: datetime
) -> bool:
    """Store the result whose rows are `texts` by rewriting the rows that changed; False if
    this process does not know what is stored."""
    with _memo_lock:
        remembered = _stored_memo.get(memo_key)
    if remembered is None:
        return False
    stored_at, stored = remembered
    changes = _row_changes(stored, texts)
    if changes is None:
        return False
    cohort_id, analysis, params_key = memo_key
    stored_result = AnalysisResult.objects.filter(
        cohort_id=cohort_id, analysis=analysis, parameters_key=params_key
    )
    # Only the result this process knows (computed at `stored_at`) is patched.
    updated = stored_result.filter(computed_at=stored_at).update(
        parameters=params,
        input_fingerprint=fingerprint,
        code_version=CODE_VERSION,
        status=AnalysisResult.Status.DONE,
        message="",
        computed_at=now,
        updated_at=timezone.now(),
    )
    if not updated:
        return False
    patient_rows_patch(stored_result.values_list("pk", flat=True).get(), changes)
    return True


def _finish(cohort: Cohort, started: datetime) -> None:
    # Fresh only if no change was requested after this run started.
    CohortAnalyticsState.objects.filter(pk=cohort.pk).filter(
        Q(requested_at__isnull=True) | Q(requested_at__lte=started)
    ).update(stale=False, stale_since=None)
    CohortAnalyticsState.objects.filter(pk=cohort.pk).update(
        recomputing=False, claimed_by="", last_completed_at=timezone.now(), last_error=""
    )
