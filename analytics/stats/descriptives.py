"""The cohort's descriptive table per subtype and overall (the paper's Table 1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .scores import first_timepoint, require_columns

SUBTYPES = ("IBM", "DM", "PM", "ASYS", "IMNM", "other")
OVERALL = "all"
CONTINUOUS = ("age", "disease_duration_months", "mmt8", "ck")
ANTIBODIES = (
    "Jo-1", "PL-7", "PL-12", "EJ", "OJ", "Mi-2", "TIF1-γ", "NXP2", "MDA5", "SAE", "SRP",
    "HMGCR", "cN1A", "Ro52", "PM-Scl", "Ku",
)  # fmt: skip
PATIENT_COLUMNS = (
    "patient_id", "timepoint", "subtype", "sex", *CONTINUOUS, "treatment_naive", "antibodies",
    "seronegative",
)  # fmt: skip
TABLE_COLUMNS = ["variable", "level", "subtype", "statistic", "value"]


def subtype_order(present: Sequence[str], subtypes: Sequence[str] | None = None) -> list[str]:
    """`subtypes` if given, else the present subtypes: known ones in SUBTYPES order, then the
    rest alphabetically."""
    if subtypes is not None:
        return [str(subtype) for subtype in subtypes]
    present_set = {str(subtype) for subtype in present}
    known = [subtype for subtype in SUBTYPES if subtype in present_set]
    return known + sorted(present_set - set(SUBTYPES))


def summarize(values: pd.Series) -> dict[str, float]:
    """n available, median, q1, q3 (quantiles by linear interpolation, R type 7), min, max."""
    available = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if available.size == 0:
        return {"n": 0, "median": np.nan, "q1": np.nan, "q3": np.nan, "min": np.nan, "max": np.nan}
    q1, median, q3 = np.quantile(available, [0.25, 0.5, 0.75])
    return {
        "n": int(available.size),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(available.min()),
        "max": float(available.max()),
    }


def _antibody_lists(values: pd.Series) -> list[list[str]]:
    """Each patient's antibodies as a list; None or NaN means none recorded."""
    out = []
    for cell in values:
        if isinstance(cell, list | tuple | set | np.ndarray):
            out.append([str(antibody) for antibody in cell])
        elif cell is None or (isinstance(cell, float) and np.isnan(cell)):
            out.append([])
        else:
            raise ValueError(f"antibodies must be a list of strings per patient, got {cell!r}")
    return out


def _flag_counts(values: pd.Series, name: str) -> tuple[int, int]:
    """(n True, n known) of a yes/no column that may hold NaN for unknown."""
    known = values.dropna()
    if not known.isin([True, False]).all():
        raise ValueError(f"{name} must be True, False or missing")
    return int(known.astype(bool).sum()), int(len(known))


def _block(patients: pd.DataFrame, subtype: str, antibodies: Sequence[str]) -> list[tuple]:
    """The table rows (variable, level, subtype, statistic, value) for one set of patients."""
    rows: list[tuple] = [("patients", None, subtype, "n", len(patients))]
    n_female = int((patients["sex"] == "F").sum())
    n_male = int((patients["sex"] == "M").sum())
    rows += [
        ("sex", "F", subtype, "n", n_female),
        ("sex", "M", subtype, "n", n_male),
        # F:M as one number; undefined (None) without men.
        ("sex", "F:M", subtype, "ratio", n_female / n_male if n_male else np.nan),
    ]
    for variable in CONTINUOUS:
        for statistic, value in summarize(patients[variable]).items():
            rows.append((variable, None, subtype, statistic, value))
    naive, known = _flag_counts(patients["treatment_naive"], "treatment_naive")
    rows += [
        ("treatment_naive", None, subtype, "n", naive),
        ("treatment_naive", None, subtype, "N", known),
    ]
    lists = _antibody_lists(patients["antibodies"])
    for antibody in antibodies:
        count = sum(antibody in patient_antibodies for patient_antibodies in lists)
        rows.append(("antibody", antibody, subtype, "n", count))
    seronegative, known = _flag_counts(patients["seronegative"], "seronegative")
    rows += [
        ("seronegative", None, subtype, "n", seronegative),
        ("seronegative", None, subtype, "N", known),
    ]
    return rows


def describe_cohort(
    patients: pd.DataFrame,
    *,
    timepoint: int | None = None,
    subtypes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Table 1 as a tidy frame: variable, level, subtype, statistic, value.

    One row per patient is described: the given `timepoint`, or each patient's first one.
    subtype is each subtype (SUBTYPES order) and "all". Statistics:
    - patients: n
    - sex: n per level F and M; level "F:M" statistic ratio = n_F / n_M (NaN without men)
    - age, disease_duration_months, mmt8, ck: n (available), median, q1, q3, min, max
      (quartiles by linear interpolation, R's default type 7)
    - treatment_naive and seronegative: n (True) and N (known, NaN = unknown)
    - antibody: n per antibody (level), every antibody recorded in the cohort
    """
    require_columns(patients, PATIENT_COLUMNS, "patients")
    if patients.duplicated(["patient_id", "timepoint"]).any():
        raise ValueError("patients has more than one row for a (patient_id, timepoint)")
    if timepoint is None:
        chosen = first_timepoint(patients)
    else:
        chosen = patients[patients["timepoint"] == timepoint].reset_index(drop=True)
    if chosen.empty:
        raise ValueError(f"no patients at timepoint {timepoint}")
    if chosen["subtype"].isna().any():
        raise ValueError("every patient needs a subtype (use 'other' for unclassified)")
    recorded = {antibody for cell in _antibody_lists(chosen["antibodies"]) for antibody in cell}
    antibodies = [a for a in ANTIBODIES if a in recorded] + sorted(recorded - set(ANTIBODIES))

    rows: list[tuple] = []
    subtype_of = chosen["subtype"].astype(str)
    for subtype in subtype_order(subtype_of.unique(), subtypes):
        rows += _block(chosen[subtype_of == subtype], subtype, antibodies)
    rows += _block(chosen, OVERALL, antibodies)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["value"] = table["value"].astype(float)
    return table
