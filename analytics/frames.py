"""The boundary between the database and analytics/stats: querysets in, DataFrames out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohorts.models import ClinicalAssessment, Cohort, Patient
from scoring.models import Grade, Read, ScoringProtocol

GRADE_VALUE = {"0": 0.0, "1": 1.0, "2": 2.0, "NA": np.nan}


def atlas_frame(protocol: ScoringProtocol) -> pd.DataFrame:
    """The protocol's muscles with group, region, limb and display orders (stats' atlas frame)."""
    rows = protocol.muscles.values_list(
        "slug",
        "group__slug",
        "group__region__slug",
        "group__region__limb",
        "group__order",
        "group__region__order",
        "order",
    ).order_by("group__region__order", "group__order", "order")
    return pd.DataFrame(
        list(rows),
        columns=[
            "muscle",
            "group",
            "region",
            "limb",
            "group_order",
            "region_order",
            "muscle_order",
        ],
    )


def grades_frame(
    reads: list[Read] | None = None, *, read_ids: list[int] | None = None
) -> pd.DataFrame:
    """Long grade frame (one row per cell) of the given reads, NA as NaN."""
    ids = read_ids if read_ids is not None else [r.pk for r in reads or []]
    rows = Grade.objects.filter(read_id__in=ids).values_list(
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
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "read_id",
            "patient_id",
            "timepoint",
            "reader_id",
            "kind",
            "muscle",
            "side",
            "sequence",
            "value",
        ],
    )
    frame["is_consensus"] = frame.pop("kind") == Read.Kind.CONSENSUS
    frame["value"] = frame["value"].map(GRADE_VALUE).astype(float)
    return frame


def patients_frame(cohort: Cohort) -> pd.DataFrame:
    """One row per patient and timepoint: subtype, sex, age and the clinical assessment."""
    patients = {
        p["id"]: p
        for p in Patient.objects.filter(cohort=cohort).values(
            "id",
            "pseudonym",
            "subtype",
            "sex",
            "age_at_mri",
            "antibodies",
            "seronegative",
            "site__code",
        )
    }
    rows = []
    assessments = ClinicalAssessment.objects.filter(patient__cohort=cohort).values(
        "patient_id",
        "timepoint",
        "days_from_baseline",
        "disease_duration_months",
        "ck",
        "mmt8_total",
        "treatment_naive",
    )
    seen = set()
    for a in assessments:
        p = patients[a["patient_id"]]
        seen.add(p["id"])
        rows.append(_patient_row(p, a))
    for pid, p in patients.items():
        if pid not in seen:  # a patient without clinical data still has a subtype and images
            rows.append(_patient_row(p, {"timepoint": 0}))
    columns = [
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
    return pd.DataFrame(rows, columns=columns)


def _patient_row(p: dict, a: dict) -> dict:
    duration = a.get("disease_duration_months")
    return {
        "patient_id": p["id"],
        "pseudonym": p["pseudonym"],
        "site": p["site__code"],
        "timepoint": a.get("timepoint", 0),
        "days_from_baseline": a.get("days_from_baseline", 0),
        "subtype": p["subtype"],
        "sex": p["sex"] if p["sex"] in ("F", "M") else None,
        "age": p["age_at_mri"],
        "disease_duration_months": float(duration) if duration is not None else np.nan,
        "mmt8": a.get("mmt8_total"),
        "ck": a.get("ck"),
        "treatment_naive": a.get("treatment_naive"),
        "antibodies": list(p["antibodies"] or []),
        "seronegative": p["seronegative"],
    }
