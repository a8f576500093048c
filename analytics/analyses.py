"""The cohort analyses, built from stored read scores and clinical data (never from grades).

`compute_analyses` returns one JSON-ready dict per stored analysis; the parameters decide the
multiple-testing correction, the CK scale and the dashboard filters (sites, subtypes, readers,
protocol, timepoint). Nothing is kept in the process between calls: any worker computes any
cohort from what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import QuerySet

from cohorts.models import Cohort
from iim_scoring.db.statements import read_muscle_scores
from scoring.models import Read, ScoringProtocol
from scoring.scales import IIM_0_2, GradeScale

from . import stats
from .frames import muscles_atlas, patients_frame
from .models import ReadScores

READ_COLUMNS = ["read_id", "patient_id", "timepoint", "reader_id", "is_consensus"]
ANALYSED_LEVELS = ("group", "region", "limb")
CLINICAL_COLUMNS = ["pseudonym", "site", "subtype", "sex", "age", "mmt8", "ck"]


class MixedScales(ValueError):
    """Reads on different grading scales asked to be pooled: their scores do not add up."""


@dataclass(frozen=True, eq=False)
class StoredReadScores:
    """The muscle scores of the analysed reads, per scope, and the atlas they are laid on.

    muscle[scope]: READ_COLUMNS, muscle, score (a read's s_r(m); NaN = not assessable).
    scales[scope]: the grading scales those scores are on (one, unless protocols on different
    scales were pooled)."""

    layout: stats.AtlasLayout | None  # None when no read is scored yet
    muscle: dict[str, pd.DataFrame]
    scales: dict[str, list[GradeScale]] = field(default_factory=dict)

    def mixed_scales(self) -> str | None:
        """Why these reads cannot be pooled, or None when each scope has one scale."""
        for scales in self.scales.values():
            if len(scales) > 1:
                names = " and ".join(scale.name for scale in scales)
                return (
                    f"Reads graded on different scales ({names}) are not pooled: "
                    "choose one protocol."
                )
        return None

    def patient_scores(self) -> dict[str, stats.PatientScores]:
        """Per scope, the readers combined per visit (`stats.combine_reads`); MixedScales when
        reads on different scales would be combined."""
        if self.layout is None:
            return {}
        refused = self.mixed_scales()
        if refused:
            raise MixedScales(refused)
        return {
            scope: stats.combine_reads(frame, self.layout, scale_max=self.scales[scope][0].max)
            for scope, frame in self.muscle.items()
        }


def stored_read_scores(
    cohort: Cohort,
    *,
    include_rereads: bool = False,
    readers: list[int] | None = None,
    protocol: str | None = None,
) -> StoredReadScores:
    """The stored muscle scores of the cohort's submitted reads, read from the database.
    Re-reads exist for intra-reader agreement and are left out unless asked for; training
    reads are never analysed."""
    reads = Read.objects.filter(
        study__patient__cohort=cohort, status=Read.Status.SUBMITTED
    ).exclude(kind=Read.Kind.TRAINING)
    if not include_rereads:
        reads = reads.exclude(kind=Read.Kind.REREAD)
    if readers:
        reads = reads.filter(reader_id__in=readers)
    if protocol:
        reads = reads.filter(protocol__slug=protocol)
    return read_scores_of(reads)


def read_scores_of(reads: QuerySet[Read]) -> StoredReadScores:
    """The stored muscle scores of `reads` (those that have stored scores), in read_id order,
    each read's muscles in stored order."""
    keys = list(
        ReadScores.objects.filter(read__in=reads)
        .order_by("read_id")
        .values_list(
            "read_id",
            "read__study__patient_id",
            "read__study__timepoint",
            "read__reader_id",
            "read__kind",
            "read__protocol_id",
        )
    )
    protocols = ScoringProtocol.objects.in_bulk({key[5] for key in keys})
    keys = [key[:5] for key in keys]
    stored = dict(read_muscle_scores([key[0] for key in keys]))
    collected: dict[str, tuple[list[int], list[str], list[float | None]]] = {}
    for position, key in enumerate(keys):
        for scope, muscles in stored.get(key[0], {}).items():
            at, labels, values = collected.setdefault(scope, ([], [], []))
            at.extend([position] * len(muscles))
            labels.extend(muscles)
            values.extend(muscles.values())
    read_keys = pd.DataFrame(
        keys, columns=["read_id", "patient_id", "timepoint", "reader_id", "kind"]
    )
    read_keys["is_consensus"] = read_keys.pop("kind") == Read.Kind.CONSENSUS
    muscle = {}
    for scope, (at, labels, values) in collected.items():
        rows = read_keys.iloc[np.asarray(at, dtype=np.intp)].reset_index(drop=True)
        rows["muscle"] = labels
        rows["score"] = np.array(values, dtype=float)
        muscle[scope] = rows[[*READ_COLUMNS, "muscle", "score"]]
    slugs = sorted({slug for _at, labels, _values in collected.values() for slug in labels})
    layout = stats.atlas_layout(muscles_atlas(slugs)) if slugs else None
    scales = {
        scope: sorted(
            {p.score_scale(scope) for p in protocols.values()}, key=lambda scale: scale.key
        )
        for scope in muscle
    }
    return StoredReadScores(layout=layout, muscle=muscle, scales=scales)


def read_scores_from_matrices(
    per_scope: dict[str, stats.ScoreMatrices],
    layout: stats.AtlasLayout,
    scales: dict[str, GradeScale],
) -> StoredReadScores:
    """What `stored_read_scores` would read back once these scores are stored (for
    benchmarks and tools that score grades without a database); `scales`: each scope's."""
    muscle = {
        scope: scores.frames().muscle[[*READ_COLUMNS, "muscle", "score"]]
        for scope, scores in per_scope.items()
    }
    return StoredReadScores(
        layout=layout, muscle=muscle, scales={scope: [scales[scope]] for scope in muscle}
    )


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
    scores: stats.PatientScores,
    patients: pd.DataFrame,
    timepoint: str | int,
    clinical: tuple[pd.DataFrame, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    """The patient scores of the chosen timepoint with clinical columns, for the patients that
    pass the filters.

    The total level gets every clinical column; the group, region and limb levels only the
    subtype, all that their analyses read (they are 15 times longer: merging columns nobody
    reads was a third of the work)."""
    per_visit, per_patient = clinical
    subtype_per_visit = per_visit[["patient_id", "timepoint", "subtype"]]
    subtype_per_patient = per_patient[["patient_id", "subtype"]]
    out = {}
    for level in (*ANALYSED_LEVELS, "total"):
        combined = getattr(scores, level)
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
    """Every stored analysis of the cohort, as JSON-ready dicts keyed by analysis name, read
    and computed afresh (nothing is kept between calls).

    `patients` is the cohort's `patients_frame` when the caller has it already."""
    patients = filter_patients(
        patients if patients is not None else patients_frame(cohort), parameters
    )
    read_scores = stored_read_scores(
        cohort, readers=parameters.get("readers") or None, protocol=parameters.get("protocol")
    )
    refused = read_scores.mixed_scales()
    if refused:
        return analyses_from_scores(
            patients, {}, parameters, not_pooled={scope: refused for scope in read_scores.muscle}
        )
    scales = {scope: found[0] for scope, found in read_scores.scales.items()}
    return analyses_from_scores(patients, read_scores.patient_scores(), parameters, scales=scales)


def analyses_from_scores(
    patients: pd.DataFrame,
    scores: dict[str, stats.PatientScores],
    parameters: dict[str, Any],
    *,
    scales: dict[str, GradeScale] | None = None,
    not_pooled: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The analyses of `compute_analyses` from (filtered) patients and patient scores per scope.

    A timepoint or filter with no data gives results that say so ("no data"), not an error;
    the scopes of `not_pooled` ({scope: why}) are results that say why they are not computed
    (reads on different scales). Each scope's group profile names its scale (`scales`, by
    default the paper's), so figures and readers know the scores' range."""
    timepoint = parameters["timepoint"]
    described = (
        patients if timepoint == "baseline" else patients[patients["timepoint"] == int(timepoint)]
    )
    results: dict[str, Any] = {
        "descriptives": (
            {"status": "ok", "table": _records(stats.describe_cohort(described))}
            if not described.empty
            else {"status": "no data", "message": _no_data(timepoint), "table": []}
        ),
    }
    clinical = _clinical_tables(patients)
    profile, comparison, correlation, patient_scores = {}, {}, {}, {}
    for scope, scope_scores in scores.items():
        level = _patient_level(scope_scores, patients, timepoint, clinical)
        if level["total"]["score"].notna().any():
            parts = _scope_analyses(level, parameters)
        else:
            parts = _scope_without_data(_no_data(timepoint))
        profile[scope], comparison[scope], correlation[scope], patient_scores[scope] = parts
        scale = (scales or {}).get(scope, IIM_0_2)
        profile[scope]["scale"] = {"key": scale.key, "name": scale.name, "max": scale.max}
    for scope, why in (not_pooled or {}).items():
        parts = _scope_without_data(why, status="not comparable")
        profile[scope], comparison[scope], correlation[scope], patient_scores[scope] = parts
    results["group_profile"] = profile
    results["subtype_comparison"] = comparison
    results["clinical_correlation"] = correlation
    results["patient_scores"] = patient_scores
    return results


def _no_data(timepoint: str | int) -> str:
    where = "at baseline" if timepoint == "baseline" else f"at timepoint {timepoint}"
    return f"No scored patient {where} with these filters."


def _scope_without_data(message: str, status: str = "no data") -> list[Any]:
    empty = {"status": status, "message": message}
    return [
        {**empty, "group": [], "limb": [], "region": []},
        {**empty, "kruskal": [], "dunn": []},
        {**empty, "fits": [], "bands": []},
        [],
    ]


def _scope_analyses(level: dict[str, pd.DataFrame], parameters: dict[str, Any]) -> list[Any]:
    """Profile, comparison, correlation and patient scores of one scope."""
    correction, min_n = parameters["correction"], parameters["min_subgroup_n"]
    ck_log10, min_compared = parameters["ck_log10"], parameters["min_comparison_n"]
    groups, limbs, totals = level["group"], level["limb"], level["total"]
    profile = {
        "status": "ok",
        "group": _records(stats.group_profile(groups)),
        "limb": _records(stats.limb_profile(limbs)),
        "region": _records(
            stats.group_profile(level["region"].rename(columns={"region": "group"})).rename(
                columns={"group": "region"}
            )
        ),
    }
    compared = {"correction": correction, "min_n": min_compared}
    comparison = {
        "status": "ok",
        "kruskal": _records(stats.kruskal_by_group(groups, **compared)),
        "dunn": _records(stats.dunn_by_group(groups, **compared)),
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
        "status": "ok",
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
