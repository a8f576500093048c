"""The analyses beyond the paper (issue "Beyond the paper"), built from stored read scores.

- agreement: inter-reader (primary vs second read of a study) and intra-reader (a read vs its
  re-read): weighted kappa per muscle and pooled, percent agreement, ICC for group and total
  scores, Bland-Altman of the total;
- asymmetry: left-right differences per muscle, the share of asymmetric muscles per patient,
  compared across subtypes;
- longitudinal: change of group and total scores per interval and per year;
- patterns: hierarchical clustering of patients by group-score profile, and an exploratory
  cross-validated subtype classifier (never shown to radiologists).
"""

from __future__ import annotations

import logging
from itertools import combinations
from typing import Any

import pandas as pd
from django.conf import settings
from django.utils import timezone

from cohorts.models import Cohort, ImagingStudy
from scoring.models import Read, ScoringProtocol
from scoring.scales import GradeScale

from . import stats
from .analyses import MixedScales, stored_read_scores
from .frames import atlas_frame, grades_frames, patients_frame
from .models import AnalysisResult, ReadScores
from .recompute import (
    BEYOND_ANALYSIS,
    CODE_VERSION,
    READ_CHUNK,
    analysis_parameters,
    analysis_result_store,
    input_fingerprint,
    parameters_key,
)
from .stats import agreement, asymmetry, longitudinal, patterns

logger = logging.getLogger(__name__)

# Agreement from fewer read pairs than this is reported as "too few", not as a kappa or ICC.
AGREEMENT_MIN_PAIRS = 5
# A subtype's median yearly change from fewer patients than this is reported as "too few".
LONGITUDINAL_MIN_PATIENTS = 3


# Clustering is O(n^2) in memory: beyond this many patients a fixed random sample is clustered.
CLUSTER_MAX_PATIENTS = 2000
EXPLORATORY = (
    "Exploratory: a cross-validated classifier on a small cohort. It describes "
    "patterns; it does not diagnose, and it is never shown to readers."
)


def _reads_meta(cohort: Cohort) -> pd.DataFrame:
    rows = (
        Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
        .exclude(kind=Read.Kind.TRAINING)  # never analysed
        .values_list(
            "pk",
            "study_id",
            "study__patient_id",
            "study__timepoint",
            "reader_id",
            "kind",
            "rereads_id",
            "protocol_id",
        )
    )
    return pd.DataFrame(
        list(rows),
        columns=[
            "read_id",
            "study_id",
            "patient_id",
            "timepoint",
            "reader_id",
            "kind",
            "rereads_id",
            "protocol_id",
        ],
    )


def _stored(read_ids: list[int]) -> dict[int, dict]:
    return {
        r: s.get("unified", {})
        for r, s in ReadScores.objects.filter(read_id__in=read_ids).values_list("read_id", "scores")
    }


def _side_frame(meta: pd.DataFrame) -> pd.DataFrame:
    """Unified grade u per read, muscle and side (the protocol's sequence combination), from
    the grade rows: the stored read scores hold muscles with their sides already combined."""
    parts = []
    for protocol_id, read_ids in meta.groupby("protocol_id")["read_id"]:
        protocol = ScoringProtocol.objects.get(pk=protocol_id)
        atlas = atlas_frame(protocol)
        ids = read_ids.tolist()
        chunks = [ids[start : start + READ_CHUNK] for start in range(0, len(ids), READ_CHUNK)]
        for grades in grades_frames(chunks):
            if grades.empty:
                continue
            unified = stats.unified_grades(grades, atlas, combine=protocol.sequence_combine)
            parts.append(
                unified[["read_id", "patient_id", "muscle", "group", "side", "unified"]].rename(
                    columns={"unified": "u"}
                )
            )
    if not parts:
        return pd.DataFrame(columns=["read_id", "patient_id", "muscle", "group", "side", "u"])
    return pd.concat(parts, ignore_index=True).astype({"u": float})


def _pairs(meta: pd.DataFrame, kind: str) -> list[tuple[int, int]]:
    """(first read, second read) pairs: inter = every two readers' reads (primary and second
    reads, however many) of the same study; intra = a read and its re-read by its reader."""
    if kind == "inter":
        readers = meta[meta["kind"].isin([Read.Kind.PRIMARY, Read.Kind.SECOND])]
        return [
            (int(a), int(b))
            for _study, reads in readers.sort_values("read_id").groupby("study_id")
            for a, b in combinations(reads["read_id"], 2)
        ]
    rereads = meta[meta["kind"] == Read.Kind.REREAD].dropna(subset=["rereads_id"])
    known = set(meta["read_id"])
    return [
        (int(a), int(b))
        for a, b in zip(rereads["rereads_id"], rereads["read_id"], strict=True)
        if int(a) in known
    ]


def _agreement(
    kind: str,
    pairs: list[tuple[int, int]],
    stored: dict[int, dict],
    sides: pd.DataFrame,
    scale_of_read: dict[int, GradeScale],
) -> dict[str, Any]:
    scales = sorted({scale_of_read[r] for pair in pairs for r in pair}, key=lambda s: s.key)
    if len(scales) > 1:
        names = " and ".join(scale.name for scale in scales)
        return {
            "kind": kind,
            "n_pairs": len(pairs),
            "status": "not comparable",
            "message": f"Read pairs graded on different scales ({names}) are not pooled.",
        }
    if len(pairs) < AGREEMENT_MIN_PAIRS:
        return {
            "kind": kind,
            "n_pairs": len(pairs),
            "status": "too few",
            "message": f"too few (n = {len(pairs)} read pairs, minimum {AGREEMENT_MIN_PAIRS})",
        }
    cells = []
    scores = []
    for target, (a, b) in enumerate(pairs):
        first = sides[sides["read_id"] == a].assign(study_id=target)
        second = sides[sides["read_id"] == b].assign(study_id=target)
        cells.append(agreement.grade_pairs(first, second))
        for rater, read in ((0, a), (1, b)):
            levels = stored.get(read, {})
            scores.append(
                {
                    "target": target,
                    "rater": rater,
                    "total": levels.get("total"),
                    **{f"group:{g}": v for g, v in levels.get("group", {}).items()},
                }
            )
    paired = pd.concat(cells, ignore_index=True)
    # Weights are positions on the whole scale, whichever grades occur.
    categories = range(scales[0].max + 1)
    kappa = agreement.grade_agreement(paired, categories=categories)
    pooled_by_study = agreement.pooled_kappa_by_study(paired, categories=categories)
    wide = pd.DataFrame(scores)
    score_cols = [c for c in wide.columns if c not in ("target", "rater")]
    icc = agreement.icc_per_score(wide, score_cols=score_cols)
    totals = wide.pivot(index="target", columns="rater", values="total")
    bland = agreement.bland_altman(totals[0], totals[1])
    return {
        "kind": kind,
        "n_pairs": len(pairs),
        "status": "ok",
        "scale": scales[0].name,
        **kappa.to_dict(),
        # Cells of one pair of reads are not independent: the interval resamples read pairs.
        "pooled_by_study": stats.json_value(pooled_by_study),
        "icc": stats.to_records(icc[icc["form"].isin(["ICC2", "ICC3"])]),
        "bland_altman": bland.to_dict(),
    }


def compute_beyond(
    cohort: Cohort, patients: pd.DataFrame, group_scores: pd.DataFrame, visits: pd.DataFrame
) -> dict[str, Any]:
    """The four analyses. `group_scores`: baseline, one row per patient (patient_id, subtype,
    one column per group); `visits`: per patient and timepoint (patient_id, subtype, timepoint,
    days_from_baseline, group columns and total)."""
    meta = _reads_meta(cohort)
    stored = _stored(meta["read_id"].tolist())
    sides = _side_frame(meta)
    protocols = ScoringProtocol.objects.in_bulk(set(meta["protocol_id"]))
    scale_of_read = {
        int(read): protocols[protocol].score_scale("unified")
        for read, protocol in zip(meta["read_id"], meta["protocol_id"], strict=True)
    }
    result: dict[str, Any] = {
        "agreement": {
            kind: _agreement(kind, _pairs(meta, kind), stored, sides, scale_of_read)
            for kind in ("inter", "intra")
        },
    }
    # One read per patient: the first reader's (or the consensus) read at baseline.
    first_reads = meta[meta["kind"].isin([Read.Kind.PRIMARY, Read.Kind.CONSENSUS])]
    first_reads = first_reads[
        first_reads["timepoint"] == first_reads.groupby("patient_id")["timepoint"].transform("min")
    ].sort_values("kind")  # "consensus" before "primary"
    first_reads = first_reads.drop_duplicates("patient_id")
    baseline_sides = sides[
        sides["read_id"].isin(first_reads["read_id"]) & sides["side"].isin(["L", "R"])
    ]
    baseline_scales = {scale_of_read[int(read)] for read in first_reads["read_id"]}
    if baseline_sides.empty:
        result["asymmetry"] = {"status": "no grades on both sides"}
    elif len(baseline_scales) > 1:
        result["asymmetry"] = {
            "status": "not comparable",
            "message": "Baseline reads graded on different scales are not pooled.",
        }
    else:
        top = baseline_scales.pop().max
        per_patient = asymmetry.patient_asymmetry(baseline_sides, top)
        by_subtype = asymmetry.asymmetry_by_subtype(
            baseline_sides, patients.drop_duplicates("patient_id")[["patient_id", "subtype"]]
        )
        groups = asymmetry.group_asymmetry(baseline_sides, top)
        muscles = asymmetry.muscle_asymmetry(baseline_sides, top)
        muscles = muscles[muscles["both_sides"].astype(bool)].assign(
            asymmetric=lambda m: m["asymmetric"].astype(float)
        )
        result["asymmetry"] = {
            "status": "ok",
            "by_subtype": by_subtype.to_dict(),
            "patients": stats.to_records(per_patient),
            "groups": stats.to_records(
                groups.groupby("group", as_index=False)[["diff", "ai", "n_asymmetric"]].mean()
            ),
            # Per muscle over patients: mean L - R, mean AI, share of patients asymmetric.
            "muscles": stats.to_records(
                muscles.groupby(["group", "muscle"], as_index=False, sort=False).agg(
                    n_patients=("patient_id", "nunique"),
                    diff=("diff", "mean"),
                    ai=("ai", "mean"),
                    share_asymmetric=("asymmetric", "mean"),
                )
            ),
        }
    score_cols = [c for c in visits.columns if c.startswith("group:") or c == "total"]
    most_timepoints = visits.groupby("patient_id")["timepoint"].nunique().max()
    if not most_timepoints >= 2:  # NaN (no visits) too
        result["longitudinal"] = {"status": "no patient has two timepoints"}
    else:
        result["longitudinal"] = {
            "status": "ok",
            "changes": stats.to_records(longitudinal.score_changes(visits, score_cols=score_cols)),
            "summary": stats.to_records(
                longitudinal.change_summary(
                    visits, score_cols=score_cols, min_n=LONGITUDINAL_MIN_PATIENTS
                )
            ),
            "trajectories": stats.to_records(
                visits[["patient_id", "subtype", "timepoint", "days_from_baseline", "total"]]
            ),
        }
    result["patterns"] = _patterns(group_scores)
    return result


def _patterns(group_scores: pd.DataFrame) -> dict[str, Any]:
    group_cols = [c for c in group_scores.columns if c.startswith("group:")]
    if len(group_scores) < 4 or not group_cols:
        return {"status": "too few patients"}
    sample = group_scores
    if len(sample) > CLUSTER_MAX_PATIENTS:
        sample = sample.sample(CLUSTER_MAX_PATIENTS, random_state=20261125)
    labels = [c for c in ("pseudonym", "subtype") if c in sample.columns]
    clustering = patterns.cluster_patients(sample, group_cols=group_cols, k=min(5, len(sample)))
    out: dict[str, Any] = {
        "status": "ok",
        "sampled": len(sample) < len(group_scores),
        "clustering": clustering.to_dict(),
        "heatmap": stats.to_records(
            sample.set_index("patient_id")
            .loc[list(clustering.patient_order), [*labels, *clustering.group_order]]
            .reset_index()
        ),
    }
    labelled = group_scores[group_scores["subtype"].isin(["IBM", "DM", "PM", "ASYS", "IMNM"])]
    repeats = 10 if len(labelled) <= 500 else 2  # CV cost grows with n; few repeats suffice
    try:
        classifier = patterns.classify_subtypes(
            labelled,
            group_cols=group_cols,
            n_repeats=repeats,
            # Each permutation is a cross-validation of its own: fewer where fits cost seconds.
            n_label_permutations=settings.ANALYTICS_CLASSIFIER_PERMUTATIONS
            if len(labelled) <= 500
            else min(19, settings.ANALYTICS_CLASSIFIER_PERMUTATIONS),
        )
        out["classifier"] = {**classifier.to_dict(), "label": EXPLORATORY}
    except ValueError as exc:
        out["classifier"] = {"status": str(exc), "exploratory": True, "label": EXPLORATORY}
    return out


def wide_group_scores(groups: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Patient-level long group scores → one row per patient and timepoint, `group:<slug>`
    columns plus total, subtype and days_from_baseline."""
    wide = groups.pivot_table(
        index=["patient_id", "timepoint"], columns="group", values="score"
    ).add_prefix("group:")
    labels = [c for c in ("subtype", "pseudonym") if c in totals.columns]
    keep = totals.set_index(["patient_id", "timepoint"])[[*labels, "score"]].rename(
        columns={"score": "total"}
    )
    frame = keep.join(wide).reset_index()
    frame["subtype"] = frame["subtype"].fillna("other")
    return frame


def beyond_inputs(cohort: Cohort) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(patients, baseline group scores, visits) for `compute_beyond`, from the stored read
    scores of the unified scope (readers combined as everywhere: consensus, else the mean)."""
    patients = patients_frame(cohort)
    scores = stored_read_scores(cohort).patient_scores().get("unified")  # or MixedScales
    if scores is None:  # no submitted read is scored yet
        return patients, pd.DataFrame(), pd.DataFrame()
    groups, totals = scores.group, scores.total
    subtypes = patients.drop_duplicates("patient_id")[["patient_id", "subtype", "pseudonym"]]
    visits = wide_group_scores(groups, totals.merge(subtypes, on="patient_id", how="left"))
    # Trajectories run on MRI time: the imaging study's offset from baseline.
    days = pd.DataFrame(
        list(
            ImagingStudy.objects.filter(patient__cohort=cohort).values_list(
                "patient_id", "timepoint", "days_from_baseline"
            )
        ),
        columns=["patient_id", "timepoint", "days_from_baseline"],
    ).drop_duplicates(["patient_id", "timepoint"])
    visits = visits.merge(days, on=["patient_id", "timepoint"], how="left")
    visits["days_from_baseline"] = visits["days_from_baseline"].fillna(0)
    return patients, stats.first_timepoint(visits), visits


def cohort_beyond_recompute(*, cohort_id: int, force: bool = False) -> str:
    """Compute and store the cohort's analyses beyond the paper for its current input.

    Returns "done", "unchanged" (stored already for this input fingerprint and code version),
    "failed" (the message is stored on the result row for the dashboard, the traceback
    logged), "empty" (no patients) or "missing".
    """
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    if cohort is None:
        return "missing"
    if not cohort.patients.exists():
        return "empty"
    params = analysis_parameters()
    params_key = parameters_key(params)
    not_pooled = None
    try:
        patients, group_scores, visits = beyond_inputs(cohort)
    except MixedScales as exc:
        patients, not_pooled = patients_frame(cohort), str(exc)
    fingerprint = input_fingerprint(cohort, patients)
    stored = AnalysisResult.objects.filter(
        cohort=cohort, analysis=BEYOND_ANALYSIS, parameters_key=params_key
    ).first()
    if (
        not force
        and stored is not None
        and stored.status == AnalysisResult.Status.DONE
        and stored.input_fingerprint == fingerprint
        and stored.code_version == CODE_VERSION
    ):
        return "unchanged"
    try:
        if not_pooled:
            result = {"status": "not comparable", "message": not_pooled}
        elif visits.empty:
            result = {"status": "no data", "message": "No submitted read is scored yet."}
        else:
            result = compute_beyond(cohort, patients, group_scores, visits)
    except Exception as exc:
        logger.exception("beyond-the-paper analyses failed cohort_id=%s", cohort.pk)
        AnalysisResult.objects.update_or_create(
            cohort=cohort,
            analysis=BEYOND_ANALYSIS,
            parameters_key=params_key,
            defaults={
                "parameters": params,
                "input_fingerprint": fingerprint,
                "code_version": CODE_VERSION,
                "status": AnalysisResult.Status.FAILED,
                "message": f"{type(exc).__name__}: {exc}"[:2000],
            },
        )
        return "failed"
    now = timezone.now()
    analysis_result_store(cohort, BEYOND_ANALYSIS, params_key, params, fingerprint, result, now)
    return "done"
