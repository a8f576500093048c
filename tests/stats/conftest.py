"""Fixtures for the pure statistics tests: no database, no Django settings needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
# A copy of ../shared/data/stats-reference (values computed by R; see its README).
REFERENCE_DIR = REPO / "tests" / "data" / "stats-reference"
# Plain `pytest -p no:django` does not put the repository on sys.path (pytest-django does).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

READ_DEFAULTS = {"patient_id": 1, "timepoint": 0, "reader_id": 1, "is_consensus": False}


@pytest.fixture(scope="session")
def reference() -> dict:
    """The R-computed reference values (README.md beside them says how they were made)."""
    path = REFERENCE_DIR / "reference.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def reference_csv():
    """Loader of a reference CSV by file name (empty cells are missing values)."""

    def load(name: str) -> pd.DataFrame:
        path = REFERENCE_DIR / name
        return pd.read_csv(path)

    return load


@pytest.fixture
def small_atlas() -> pd.DataFrame:
    """Five muscles: arm (upper) with flexors a, b and extensors c; thigh (lower) with d, e."""
    rows = [
        ("a", "flexors", "arm", "upper", 0, 0, 0),
        ("b", "flexors", "arm", "upper", 0, 0, 1),
        ("c", "extensors", "arm", "upper", 1, 0, 2),
        ("d", "ventral", "thigh", "lower", 2, 1, 3),
        ("e", "ventral", "thigh", "lower", 2, 1, 4),
    ]
    columns = ["muscle", "group", "region", "limb", "group_order", "region_order", "muscle_order"]
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture
def default_atlas() -> pd.DataFrame:
    """The shipped whole-body atlas (scoring/atlas_data.py) as the atlas frame."""
    from scoring.atlas_data import GROUPS, REGIONS, atlas_muscles

    region_order = {slug: i for i, (slug, _name, _limb) in enumerate(REGIONS)}
    group_order = {slug: i for i, (_region, slug, _name, _muscles) in enumerate(GROUPS)}
    return pd.DataFrame(
        [
            {
                "muscle": m.slug,
                "group": m.group,
                "region": m.region,
                "limb": m.limb,
                "group_order": group_order[m.group],
                "region_order": region_order[m.region],
                "muscle_order": i,
            }
            for i, m in enumerate(atlas_muscles())
        ]
    )


def grade_frame(
    cells: dict[int, list[tuple]], reads: dict[int, dict] | None = None
) -> pd.DataFrame:
    """Grades frame from {read_id: [(muscle, side, sequence, value), ...]}; None = NA."""
    reads = reads or {}
    rows = []
    for read_id, read_cells in cells.items():
        meta = {**READ_DEFAULTS, **reads.get(read_id, {})}
        for muscle, side, sequence, value in read_cells:
            rows.append(
                {
                    "read_id": read_id,
                    **meta,
                    "muscle": muscle,
                    "side": side,
                    "sequence": sequence,
                    "value": float("nan") if value is None else float(value),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def make_grades():
    """`grade_frame`, the builder of small hand-written grade frames."""
    return grade_frame
