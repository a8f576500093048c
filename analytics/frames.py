"""The boundary between the database and analytics/stats: querysets in, DataFrames out."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q

from cohorts.models import Cohort, Patient
from iim_scoring.db.statements import grade_lines
from scoring.models import Grade, Muscle, Read, ScoringProtocol
from scoring.scales import ALL_VALUES, NOT_ASSESSABLE

from .stats.scores import ATLAS_COLUMNS

# Every stored grade value on any scale (scoring/scales.py) as the number it stands for.
GRADE_VALUE = {**{value: float(value) for value in ALL_VALUES}, NOT_ASSESSABLE: np.nan}


def atlas_frame(protocol: ScoringProtocol) -> pd.DataFrame:
    """The protocol's muscles with group, region, limb and display orders (stats' atlas frame)."""
    return pd.DataFrame(atlas_rows(protocol), columns=list(ATLAS_COLUMNS))


def atlas_rows(protocol: ScoringProtocol) -> list[tuple]:
    """The rows of `atlas_frame` (hashable: callers cache what they build from an atlas)."""
    rows = protocol.muscles.values_list(
        "slug",
        "group__slug",
        "group__region__slug",
        "group__region__limb",
        "group__order",
        "group__region__order",
        "order",
    ).order_by("group__region__order", "group__order", "order")
    return list(rows)


def muscles_atlas(slugs: Sequence[str]) -> pd.DataFrame:
    """The atlas frame of the given muscles (however many protocols they come from)."""
    rows = (
        Muscle.objects.filter(slug__in=list(slugs))
        .values_list(
            "slug",
            "group__slug",
            "group__region__slug",
            "group__region__limb",
            "group__order",
            "group__region__order",
            "order",
        )
        .order_by("group__region__order", "group__order", "order")
    )
    return pd.DataFrame(list(rows), columns=list(ATLAS_COLUMNS))


TEXT_PATH_MIN_READS = 20
GRADE_COLUMNS = [
    "read_id",
    "patient_id",
    "timepoint",
    "reader_id",
    "kind",
    "muscle",
    "side",
    "sequence",
    "value",
]


def grades_frame(
    reads: list[Read] | None = None, *, read_ids: list[int] | None = None
) -> pd.DataFrame:
    """Long grade frame (one row per cell) of the given reads, NA as NaN.

    Many reads' grades come as text straight into pandas' parser (a 2.4 M-row cohort in
    seconds instead of millions of Python tuples); the read keys are joined in pandas.
    """
    ids = read_ids if read_ids is not None else [r.pk for r in reads or []]
    # The text path pays off for many reads; a few reads (a grade save) come faster as rows.
    if len(ids) > TEXT_PATH_MIN_READS:
        return _grades_frame_from_text(grade_lines(ids), ids)
    rows = (
        Grade.objects.filter(read_id__in=ids)
        .order_by()
        .values_list(
            "read_id",
            "read__study__patient_id",
            "read__study__timepoint",
            "read__reader_id",
            "read__kind",
            "muscle__slug",
            "side",
            "sequence",
            "value",
        )
    )
    frame = pd.DataFrame(list(rows), columns=GRADE_COLUMNS)
    frame["value"] = frame["value"].map(GRADE_VALUE).astype(float)
    return _flag_consensus(frame)


def _flag_consensus(frame: pd.DataFrame) -> pd.DataFrame:
    frame["is_consensus"] = frame.pop("kind") == Read.Kind.CONSENSUS
    return frame


def grades_frames(chunks: Sequence[list[int]]) -> Iterator[pd.DataFrame]:
    """`grades_frame` of each chunk of read ids in turn.

    Outside a transaction, the next chunk's grades are read on a second
    connection while the caller works on this one: Postgres builds the text of 2,000 reads'
    grades (about a third of a second) on one core while Python scores on the other. Inside a
    transaction a second connection would not see its uncommitted rows, so there it reads in
    turn."""
    if connection.in_atomic_block or len(chunks) < 2:
        for chunk in chunks:
            yield grades_frame(read_ids=chunk)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="grade-prefetch") as pool:
        pending = pool.submit(_grade_text_on_own_connection, chunks[0])
        for index, chunk in enumerate(chunks):
            text = pending.result()
            if index + 1 < len(chunks):
                pending = pool.submit(_grade_text_on_own_connection, chunks[index + 1])
            yield _grades_frame_from_text(text, chunk)


def _grade_text_on_own_connection(ids: list[int]) -> str:
    """`grade_lines` in a worker thread, on that thread's own connection, closed after."""
    try:
        return grade_lines(ids)
    finally:
        connection.close()


def _grades_frame_from_text(text: str, ids: list[int]) -> pd.DataFrame:
    """The grade rows of `ids` from `grade_lines`, read by pandas' C parser; the read keys
    are joined in pandas."""
    grades = pd.read_csv(
        io.StringIO(text),
        sep="\t",
        header=None,
        names=["read_id", "muscle_id", "side", "sequence", "value"],
        dtype={"read_id": "int64", "muscle_id": "int64", "side": str, "sequence": str},
        na_values=["NA"],
        keep_default_na=False,
    )
    grades["value"] = grades["value"].astype(float)
    meta = pd.DataFrame(
        list(
            Read.objects.filter(pk__in=ids).values_list(
                "pk", "study__patient_id", "study__timepoint", "reader_id", "kind"
            )
        ),
        columns=["read_id", "patient_id", "timepoint", "reader_id", "kind"],
    )
    # Positional takes on pandas arrays: no Python string objects for 2.4 M cells.
    at = pd.Index(meta["read_id"]).get_indexer(grades["read_id"])
    muscles = pd.DataFrame(list(Muscle.objects.values_list("pk", "slug")), columns=["pk", "slug"])
    muscle_at = pd.Index(muscles["pk"]).get_indexer(grades["muscle_id"])
    columns = {
        "read_id": grades["read_id"].array,
        **{key: meta[key].array.take(at) for key in ("patient_id", "timepoint", "reader_id")},
        "kind": meta["kind"].array.take(at),
        "muscle": muscles["slug"].array.take(muscle_at),
        "side": grades["side"].array,
        "sequence": grades["sequence"].array,
        "value": grades["value"].array,
    }
    return _flag_consensus(pd.DataFrame(columns, columns=GRADE_COLUMNS))


PATIENT_COLUMNS = [
    "patient_id",
    "pseudonym",
    "site",
    "timepoint",
    "days_from_baseline",
    "subtype",
    "sex",
    "age",
    "disease_duration_months",
    "mmt8",
    "ck",
    "treatment_naive",
    "antibodies",
    "seronegative",
]


def patients_frame(cohort: Cohort) -> pd.DataFrame:
    """One row per patient and timepoint: subtype, sex, age and the clinical assessment.

    Rows follow the assessments (by patient, then timepoint); patients without clinical data
    come last with timepoint 0 (they still have a subtype and images).
    """
    # One query: the patient joined to each of its assessments (or to none).
    fetched = (
        Patient.objects.filter(cohort=cohort)
        .annotate(unassessed=ExpressionWrapper(Q(assessments=None), output_field=BooleanField()))
        .order_by("unassessed", "pseudonym", "id", "assessments__timepoint")
        .values_list(
            "id",
            "pseudonym",
            "subtype",
            "sex",
            "age_at_mri",
            "antibodies",
            "seronegative",
            "site__code",
            "assessments__id",
            "assessments__timepoint",
            "assessments__days_from_baseline",
            "assessments__disease_duration_months",
            "assessments__ck",
            "assessments__mmt8_total",
            "assessments__treatment_naive",
        )
    )
    rows = []
    for (
        pid,
        pseudonym,
        subtype,
        sex,
        age,
        antibodies,
        seronegative,
        site,
        assessed,
        timepoint,
        days,
        duration,
        ck,
        mmt8,
        naive,
    ) in fetched:
        patient = (pid, pseudonym, subtype, sex, age, antibodies, bool(seronegative), site)
        if assessed is None:  # a patient without clinical data still has a subtype and images
            rows.append(_patient_row(patient, 0, 0, np.nan, None, None, None))
            continue
        rows.append(
            _patient_row(
                patient,
                timepoint,
                days,
                float(duration) if duration is not None else np.nan,
                mmt8,
                ck,
                None if naive is None else bool(naive),
            )
        )
    return pd.DataFrame(rows, columns=PATIENT_COLUMNS)


def _patient_row(p: tuple, timepoint, days, duration, mmt8, ck, naive) -> tuple:
    pid, pseudonym, subtype, sex, age, antibodies, seronegative, site = p
    return (
        pid,
        pseudonym,
        site,
        timepoint,
        days,
        subtype,
        sex if sex in ("F", "M") else None,
        age,
        duration,
        mmt8,
        ck,
        naive,
        list(antibodies or []),
        seronegative,
    )
