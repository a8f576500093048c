"""The cohort analyses, built from stored read scores and clinical data (never from grades).

`compute_analyses` returns one JSON-ready dict per stored analysis; the parameters decide the
multiple-testing correction, the CK scale and the dashboard filters (sites, subtypes, readers,
protocol, timepoint).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import pandas as pd
from django.db.models import TextField
from django.db.models.functions import Cast

from cohorts.models import Cohort
from iim_scoring.db.statements import read_scores_without_muscles
from scoring.models import Read

from . import stats
from .frames import patients_frame
from .models import ReadScores

READ_COLUMNS = ["read_id", "patient_id", "timepoint", "reader_id", "is_consensus"]
ANALYSED_LEVELS = ("group", "region", "limb")
CLINICAL_COLUMNS = ["pseudonym", "site", "subtype", "sex", "age", "mmt8", "ck"]


def stored_score_frames(
    cohort: Cohort,
    *,
    include_rereads: bool = False,
    readers: list[int] | None = None,
    protocol: str | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Stored read scores of the cohort's submitted reads as long frames per scope and level.

    {scope: {"group" | "region" | "limb": frame(read keys, <level>, score), "total": frame}}.
    Re-reads exist for intra-reader agreement and are left out unless asked for. Rows come
    read by read in read_id order, each read's labels in stored order.

    The frames last built for a filter set stay in this process with the version (fingerprint
    and write time) of every read they hold: the next call reads only the reads whose stored
    scores changed since (one grade change: one read) and patches them in.
    """
    reads = Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
    if not include_rereads:
        reads = reads.exclude(kind=Read.Kind.REREAD)
    if readers:
        reads = reads.filter(reader_id__in=readers)
    if protocol:
        reads = reads.filter(protocol__slug=protocol)
    rows = (
        ReadScores.objects.filter(read__in=reads)
        .annotate(written=Cast("computed_at", TextField()))
        .values_list(
            "read_id",
            "read__study__patient_id",
            "read__study__timepoint",
            "read__reader_id",
            "read__kind",
            "fingerprint",
            "written",
        )
    )
    current = {row[0]: row[1:] for row in rows}
    key = (cohort.pk, include_rereads, tuple(readers or ()), protocol)
    with _cache_lock:
        cached = _frames_cache.get(key)
    frames = None
    if cached is not None:
        signature, cached_frames = cached
        changed = [r for r, version in current.items() if signature.get(r) != version]
        removed = [r for r in signature if r not in current]
        if not changed and not removed:
            frames = cached_frames
        elif len(changed) + len(removed) <= max(100, len(current) // 20):
            fresh, loaded = _load_frames(changed, current)
            frames = _patched(cached_frames, fresh, set(changed) | set(removed))
            if frames is not None:
                signature = {**signature, **loaded}
                for read_id in removed:
                    del signature[read_id]
    if frames is None:
        frames, signature = _load_frames(sorted(current), current)
    with _cache_lock:
        _frames_cache[key] = (signature, frames)
        _frames_cache.move_to_end(key)
        while len(_frames_cache) > _CACHED_FRAME_SETS:
            _frames_cache.popitem(last=False)
    return {
        scope: {level: frame.copy() for level, frame in levels.items()}
        for scope, levels in frames.items()
    }


# The frames last built per (cohort, filter set), with the version of every read in them;
# bounded, and checked against the database on every use.
_CACHED_FRAME_SETS = 4
_cache_lock = threading.Lock()
_frames_cache: OrderedDict[tuple, tuple[dict, dict]] = OrderedDict()
_LOAD_CHUNK = 2000

# Read scores this process has just stored for many reads (a full recompute), as `_load_frames`
# would read them back: {read_id: (fingerprint, computed_at text, scores without the muscle
# level, keys in jsonb's order)}. Taken instead of the database's copy while the stored
# version is still that one; the whole set is dropped by `forget_stored_scores`.
_just_stored: dict[int, tuple[str, str, dict]] = {}


def jsonb_key_order(mapping: dict[str, Any]) -> dict[str, Any]:
    """`mapping` with its keys in the order Postgres keeps a jsonb object's keys in (shorter
    keys first, then by their bytes), the order they are read back in."""
    return {key: mapping[key] for key in _jsonb_order(tuple(mapping))}


@lru_cache(maxsize=256)
def _jsonb_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    # Every read of a protocol has the same labels: sorted once, not 10,000 times.
    return tuple(sorted(keys, key=lambda key: (len(key.encode()), key.encode())))


def remember_stored_scores(entries: dict[int, tuple[str, str, dict]]) -> None:
    _just_stored.update(entries)


def forget_stored_scores() -> None:
    _just_stored.clear()


def _load_frames(
    read_ids: list[int], keys: dict[int, tuple]
) -> tuple[dict[str, dict[str, pd.DataFrame]], dict[int, tuple]]:
    """The frames of the given reads (in read_id order) and each read's version as loaded
    ({read_id: (*keys, fingerprint, computed_at)}). The muscle level is left out: analyses
    never use it, and it stays in the database."""
    loaded: list[tuple[tuple, dict]] = []
    versions: dict[int, tuple] = {}
    for start in range(0, len(read_ids), _LOAD_CHUNK):
        chunk = read_ids[start : start + _LOAD_CHUNK]
        rows = []
        for read_id in chunk:
            known = _just_stored.get(read_id)
            if known is not None and known[:2] == tuple(keys[read_id][4:6]):
                rows.append((read_id, *known))
        if len(rows) < len(chunk):
            taken = {row[0] for row in rows}
            rows += read_scores_without_muscles([r for r in chunk if r not in taken])
        for read_id, fingerprint, computed_at, scores in rows:
            # A row rewritten since `keys` were read keeps the version it was loaded with:
            # the next call sees the difference and loads it again.
            read_keys = (read_id, *keys[read_id][:4])
            loaded.append((read_keys, scores))
            versions[read_id] = (*keys[read_id][:4], fingerprint, computed_at)
    loaded.sort(key=lambda item: item[0][0])
    return _build_frames(loaded), versions


def _build_frames(loaded: list[tuple[tuple, dict]]) -> dict[str, dict[str, pd.DataFrame]]:
    """Long frames from (read keys, stored scores) pairs, read by read."""
    collected: dict[str, dict[str, Any]] = {}
    for position, (_keys, scores) in enumerate(loaded):
        for scope, levels in scores.items():
            bucket = collected.get(scope)
            if bucket is None:
                bucket = collected[scope] = {
                    "reads": [],
                    **{level: ([], [], []) for level in ANALYSED_LEVELS},
                    "total": ([], []),
                }
            bucket["reads"].append(position)
            for level in ANALYSED_LEVELS:
                counts, label_list, value_list = bucket[level]
                values = levels[level]
                counts.append(len(values))
                label_list.extend(values)
                value_list.extend(values.values())
            bucket["total"][0].append(levels["total"])
            bucket["total"][1].append(levels["total_pct"])
    keys = pd.DataFrame(
        [read_keys for read_keys, _scores in loaded],
        columns=["read_id", "patient_id", "timepoint", "reader_id", "kind"],
    )
    keys["is_consensus"] = keys.pop("kind") == Read.Kind.CONSENSUS
    key_arrays = {column: keys[column].to_numpy() for column in READ_COLUMNS}
    frames: dict[str, dict[str, pd.DataFrame]] = {}
    for scope, bucket in collected.items():
        reads = np.asarray(bucket["reads"], dtype=np.intp)
        frames[scope] = {}
        for level in ANALYSED_LEVELS:
            counts, label_list, value_list = bucket[level]
            at = np.repeat(reads, counts)
            frames[scope][level] = pd.DataFrame(
                {
                    **{column: key_arrays[column][at] for column in READ_COLUMNS},
                    level: label_list,
                    "score": np.array(value_list, dtype=float),
                }
            )
        frames[scope]["total"] = pd.DataFrame(
            {
                **{column: key_arrays[column][reads] for column in READ_COLUMNS},
                "score": np.array(bucket["total"][0], dtype=float),
                "percent_of_max": np.array(bucket["total"][1], dtype=float),
            }
        )
    return frames


def _patched(
    frames: dict[str, dict[str, pd.DataFrame]],
    fresh: dict[str, dict[str, pd.DataFrame]],
    replaced: set[int],
) -> dict[str, dict[str, pd.DataFrame]] | None:
    """`frames` with the rows of the `replaced` reads swapped for their `fresh` rows (reads
    absent from `fresh` are dropped), still in read_id order. None if the layout changed in a
    way this does not handle (a scope appearing or vanishing): the caller rebuilds."""
    if set(fresh) - set(frames):
        return None
    out: dict[str, dict[str, pd.DataFrame]] = {}
    ids = np.asarray(sorted(replaced), dtype=np.int64)
    for scope, levels in frames.items():
        out[scope] = {}
        for level, frame in levels.items():
            new = fresh.get(scope, {}).get(level)
            out[scope][level] = _patched_frame(frame, new, ids)
        if out[scope]["total"].empty:
            return None
    return out


def _patched_frame(frame: pd.DataFrame, new: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame:
    """One frame with the rows of `ids` replaced by `new` (same columns), in read_id order."""
    read_ids = frame["read_id"].to_numpy()
    starts = np.searchsorted(read_ids, ids, side="left")
    stops = np.searchsorted(read_ids, ids, side="right")
    if new is not None and not new.empty:
        new_ids = new["read_id"].to_numpy()
        new_starts = np.searchsorted(new_ids, ids, side="left")
        new_stops = np.searchsorted(new_ids, ids, side="right")
    else:
        new, new_starts, new_stops = None, np.zeros_like(ids), np.zeros_like(ids)
    value_columns = [c for c in ("score", "percent_of_max") if c in frame.columns]
    fixed = [c for c in frame.columns if c not in value_columns]
    if new is not None and ((stops - starts) == (new_stops - new_starts)).all():
        # The usual case, a read's scores changed: only its values are written, in place.
        same = all(
            (frame[c].iloc[a:b].to_numpy() == new[c].iloc[x:y].to_numpy()).all()
            for c in fixed
            for a, b, x, y in zip(starts, stops, new_starts, new_stops, strict=True)
        )
        if same:
            columns = {}
            for c in value_columns:
                values = frame[c].to_numpy(copy=True)
                for a, b, x, y in zip(starts, stops, new_starts, new_stops, strict=True):
                    values[a:b] = new[c].to_numpy()[x:y]
                columns[c] = values
            return frame.assign(**columns)
    keep = np.ones(len(frame), dtype=bool)
    for a, b in zip(starts, stops, strict=True):
        keep[a:b] = False
    parts = [frame[keep]] + ([new] if new is not None else [])
    combined = pd.concat(parts, ignore_index=True)
    order = np.argsort(combined["read_id"].to_numpy(), kind="stable")
    return combined.take(order).reset_index(drop=True)


def score_frames_from_reads(
    per_scope: dict[str, stats.ReadScoreFrames],
) -> dict[str, dict[str, pd.DataFrame]]:
    """The frames of `stored_score_frames`, straight from `stats.score_reads` results (what the
    analyses would read back once these scores are stored; for benchmarks and tools)."""
    frames: dict[str, dict[str, pd.DataFrame]] = {}
    for scope, scores in per_scope.items():
        frames[scope] = {
            level: getattr(scores, level)[[*READ_COLUMNS, level, "score"]]
            for level in ANALYSED_LEVELS
        }
        frames[scope]["total"] = scores.total[[*READ_COLUMNS, "score", "percent_of_max"]]
    return frames


def _clinical_tables(patients: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clinical columns per (patient, timepoint) and the patient columns per patient that
    `_patient_level` attaches (built once per analysis run, not once per level)."""
    return (
        patients.drop_duplicates(["patient_id", "timepoint"])[
            ["patient_id", "timepoint", *CLINICAL_COLUMNS]
        ],
        patients.drop_duplicates("patient_id")[["patient_id", "subtype", "site", "pseudonym"]],
    )


def _patient_level(
    frames: dict[str, pd.DataFrame],
    patients: pd.DataFrame,
    timepoint: str | int,
    clinical: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Combine readers per patient and timepoint, choose the timepoint, attach clinical
    columns, and keep only the patients that pass the filters.

    The total level gets every clinical column; the group, region and limb levels only the
    subtype, all that their analyses read (they are 15 times longer: merging columns nobody
    reads was a third of the work)."""
    labels = {"group": ["group"], "region": ["region"], "limb": ["limb"], "total": []}
    per_visit, per_patient = clinical if clinical is not None else _clinical_tables(patients)
    subtype_per_visit = per_visit[["patient_id", "timepoint", "subtype"]]
    subtype_per_patient = per_patient[["patient_id", "subtype"]]
    out = {}
    for level, frame in frames.items():
        combined = stats.combine_reader_frame(frame, labels[level])
        if timepoint == "baseline":
            combined = stats.first_timepoint(combined)
        else:
            combined = combined[combined["timepoint"] == int(timepoint)]
        combined = combined[combined["patient_id"].isin(per_patient["patient_id"])]
        # Clinical values of the same timepoint; a missing assessment leaves them empty.
        if level == "total":
            visit_table, patient_table, filled = per_visit, per_patient, _FILLED
        else:
            visit_table, patient_table, filled = subtype_per_visit, subtype_per_patient, ["subtype"]
        out[level] = _fill_from_patient(
            combined.merge(visit_table, on=["patient_id", "timepoint"], how="left").merge(
                patient_table, on="patient_id", how="left", suffixes=("", "_patient")
            ),
            filled,
        )
    return out


_FILLED = ["subtype", "site", "pseudonym"]


def _fill_from_patient(frame: pd.DataFrame, columns: list[str] = _FILLED) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].fillna(frame.pop(f"{column}_patient"))
    return frame


def _bands(totals: pd.DataFrame, outcome: str, log10: bool) -> list[dict[str, Any]]:
    """The fitted line with its 95 % band, overall and per subtype, for the scatter plots."""
    out = []
    scopes = [("all", totals)] + [(s, g) for s, g in totals.groupby("subtype", sort=True)]
    for scope, frame in scopes:
        band = stats.regression_band(frame["score"], frame[outcome], log10=log10)
        if band is not None:
            out.append(
                {"scope": scope, "outcome": f"log10({outcome})" if log10 else outcome, **band}
            )
    return out


def filter_patients(patients: pd.DataFrame, parameters: dict[str, Any]) -> pd.DataFrame:
    """The patients of the dashboard filters (sites, subtypes)."""
    if parameters.get("sites"):
        patients = patients[patients["site"].isin(parameters["sites"])]
    if parameters.get("subtypes"):
        patients = patients[patients["subtype"].isin(parameters["subtypes"])]
    return patients


def compute_analyses(
    cohort: Cohort, parameters: dict[str, Any], *, patients: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Every stored analysis of the cohort, as JSON-ready dicts keyed by analysis name.

    `patients` is the cohort's `patients_frame` when the caller has it already."""
    patients = filter_patients(
        patients if patients is not None else patients_frame(cohort), parameters
    )
    frames = stored_score_frames(
        cohort, readers=parameters.get("readers") or None, protocol=parameters.get("protocol")
    )
    return analyses_from_frames(patients, frames, parameters)


def analyses_from_frames(
    patients: pd.DataFrame,
    frames: dict[str, dict[str, pd.DataFrame]],
    parameters: dict[str, Any],
    *,
    reuse: bool = True,
) -> dict[str, Any]:
    """The analyses of `compute_analyses` from (filtered) patients and read-score frames.

    With `reuse`, the results of each part (the descriptive table, each scope) are kept in
    this process by the digest of exactly what they are computed from: a grade change
    recomputes only the scopes whose scores it changed (a T1 grade leaves the STIR-only
    analyses as they were), a clinical change only what reads clinical data.
    """
    cached = _cached if reuse else _uncached
    timepoint = parameters["timepoint"]
    described = (
        patients if timepoint == "baseline" else patients[patients["timepoint"] == int(timepoint)]
    )
    results: dict[str, Any] = {
        "descriptives": cached(
            lambda: ("descriptives", described.to_json(orient="split", default_handler=str)),
            lambda: {"table": _records(stats.describe_cohort(described))},
        ),
    }
    clinical = _clinical_tables(patients)
    options = {
        "timepoint": timepoint,
        "correction": parameters["correction"],
        "min_n": parameters["min_subgroup_n"],
        "ck_log10": parameters["ck_log10"],
    }
    profile, comparison, correlation, patient_scores = {}, {}, {}, {}
    for scope, scope_frames in frames.items():
        (
            profile[scope],
            comparison[scope],
            correlation[scope],
            patient_scores[scope],
        ) = cached(
            lambda scope_frames=scope_frames: ("scope", options, *scope_frames.values(), *clinical),
            lambda scope_frames=scope_frames: _scope_analyses(
                scope_frames, patients, clinical, options
            ),
        )
    results["group_profile"] = profile
    results["subtype_comparison"] = comparison
    results["clinical_correlation"] = correlation
    results["patient_scores"] = patient_scores
    return results


def _scope_analyses(
    scope_frames: dict[str, pd.DataFrame],
    patients: pd.DataFrame,
    clinical: tuple[pd.DataFrame, pd.DataFrame],
    options: dict[str, Any],
) -> list[Any]:
    """Profile, comparison, correlation and patient scores of one scope."""
    correction, min_n, ck_log10 = options["correction"], options["min_n"], options["ck_log10"]
    level = _patient_level(scope_frames, patients, options["timepoint"], clinical)
    groups, limbs, totals = level["group"], level["limb"], level["total"]
    profile = {
        "group": _records(stats.group_profile(groups)),
        "limb": _records(stats.limb_profile(limbs)),
        "region": _records(
            stats.group_profile(level["region"].rename(columns={"region": "group"})).rename(
                columns={"group": "region"}
            )
        ),
    }
    comparison = {
        "kruskal": _records(stats.kruskal_by_group(groups, correction=correction)),
        "dunn": _records(stats.dunn_by_group(groups, correction=correction)),
    }
    with_total = totals.rename(columns={"score": "total"})
    fits = pd.concat(
        [
            stats.clinical_regression(with_total, outcome="mmt8", min_n=min_n),
            stats.clinical_regression(with_total, outcome="ck", log10=ck_log10, min_n=min_n),
        ],
        ignore_index=True,
    )
    correlation = {
        "fits": _records(fits),
        "bands": _bands(totals, "mmt8", False) + _bands(totals, "ck", ck_log10),
    }
    wide = groups.pivot_table(index="patient_id", columns="group", values="score")
    per_patient = totals.set_index("patient_id")[
        ["pseudonym", "site", "subtype", "timepoint", "score", "percent_of_max", "mmt8", "ck"]
    ].rename(columns={"score": "total", "percent_of_max": "total_pct"})
    limb_wide = limbs.pivot_table(index="patient_id", columns="limb", values="score")
    per_patient = per_patient.join(limb_wide.add_prefix("limb_")).join(wide.add_prefix("group_"))
    return [profile, comparison, correlation, _records(per_patient.reset_index())]


# Results by the digest of their inputs, as JSON text (compact, and no millions of live
# Python objects for the garbage collector to walk); least recently used first out.
_RESULTS_CACHE_BYTES = 96 * 2**20
_results_cache: OrderedDict[str, bytes] = OrderedDict()


def _digest(parts: tuple) -> str:
    """sha256 of the parts: frames by their columns, dtypes and row hashes (in row order),
    anything else by its JSON."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(repr([(str(c), str(t)) for c, t in part.dtypes.items()]).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"|")
    return digest.hexdigest()


def _uncached(_parts: Callable[[], tuple], compute: Callable[[], Any]) -> Any:
    return compute()


def _cached(parts: Callable[[], tuple], compute: Callable[[], Any]) -> Any:
    """compute(), or the same value computed earlier from the same inputs (`parts()`)."""
    key = _digest(parts())
    with _cache_lock:
        text = _results_cache.get(key)
        if text is not None:
            _results_cache.move_to_end(key)
    if text is not None:
        return orjson.loads(text)
    value = compute()
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    with _cache_lock:
        _results_cache[key] = text
        while sum(map(len, _results_cache.values())) > _RESULTS_CACHE_BYTES:
            _results_cache.popitem(last=False)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`stats.to_records(frame)`, converted column by column (the same plain values: floats
    with NaN and infinities as None, ints, bools, the rest through `stats.json_value`)."""
    if frame.shape[1] == 0 or frame.columns.duplicated().any():
        return stats.to_records(frame)
    columns = []
    for _name, series in frame.items():
        kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "other"
        if kind == "f":
            values = series.to_numpy()
            cells = values.astype(object)
            cells[~np.isfinite(values)] = None
            columns.append(cells.tolist())
        elif kind in ("i", "u", "b"):
            columns.append(series.tolist())
        elif isinstance(series.dtype, pd.StringDtype):
            cells = series.to_numpy(dtype=object)
            cells[series.isna().to_numpy()] = None
            columns.append(cells.tolist())
        else:
            columns.append([stats.json_value(cell) for cell in series.to_numpy(dtype=object)])
    names = [str(name) for name in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
