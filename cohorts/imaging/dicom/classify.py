"""Which sequence a series is (STIR, T1 or other) and its geometry, from DICOM tags alone.

STIR nulls fat: its inversion time is TI = ln 2 * T1(fat), about 150 ms at 1.5 T and about
220 ms at 3 T (fat's T1 lengthens with field strength). The accepted TI window is the
design's 100-250 ms at 1.5 T, scaled by the null point at the series' field strength:

    null(B0) = 150 ms + (B0 - 1.5 T) * 140/3 ms/T   (150 at 1.5 T, 220 at 3 T)
    window   = [null * 2/3, null * 5/3]             (100-250 at 1.5 T, ~147-367 at 3 T)

so a FLAIR (TI ~2000 ms) or a T1-weighted IR (TI ~400-1000 ms at 1.5 T) is not taken for a
STIR. A missing field strength counts as 1.5 T; field strengths are clamped to 0.2-7 T.

T1: spin echo or turbo spin echo (Scanning Sequence SE, no inversion) with TR <= 800 ms and
TE <= 30 ms. Everything else is OTHER; the coordinator can correct any call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

SequenceName = Literal["STIR", "T1", "OTHER"]

T1_MAX_TR_MS = 800.0
T1_MAX_TE_MS = 30.0
DEFAULT_FIELD_T = 1.5


_FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def _get(ds: Dataset, keyword: str) -> object:
    """A tag's value at the top level, else in an Enhanced MR functional group (first frame)."""
    value = ds.get(keyword)
    if value is not None and value != "":
        return value
    for groups in _FUNCTIONAL_GROUPS:
        items = ds.get(groups)
        if not items:
            continue
        for macro in items[0]:
            if macro.VR == "SQ" and macro.value and keyword in macro.value[0]:
                return macro.value[0].get(keyword)
    return None


def _number(ds: Dataset, keyword: str) -> float | None:
    """A numeric tag as float, or None when missing, empty or malformed."""
    value = _get(ds, keyword)
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue | list | tuple):  # multi-echo: the first value
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _codes(ds: Dataset, keyword: str) -> set[str]:
    """A multi-valued CS tag as a set of upper-case codes."""
    value = _get(ds, keyword)
    if value is None or value == "":
        return set()
    # A single value (or, in a damaged file, a number where codes belong) counts as one code.
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return {str(v).strip().upper() for v in values if str(v).strip()}


def stir_ti_window(field_strength_t: float | None) -> tuple[float, float]:
    """The (low, high) inversion times in ms accepted as STIR at this field strength."""
    field = min(max(field_strength_t or DEFAULT_FIELD_T, 0.2), 7.0)
    null = 150.0 + (field - 1.5) * 140.0 / 3.0
    return null * 2.0 / 3.0, null * 5.0 / 3.0


def inversion_time(ds: Dataset) -> float | None:
    """Inversion Time, or the first Inversion Times value of an Enhanced MR image."""
    ti = _number(ds, "InversionTime")
    return ti if ti is not None else _number(ds, "InversionTimes")


def is_inversion_recovery(ds: Dataset) -> bool:
    """IR in Scanning Sequence or Scan Options, Inversion Recovery YES, or a TI is given."""
    if "IR" in _codes(ds, "ScanningSequence") | _codes(ds, "ScanOptions"):
        return True
    if "YES" in _codes(ds, "InversionRecovery"):  # Enhanced MR
        return True
    ti = inversion_time(ds)
    return ti is not None and ti > 0


def _is_spin_echo(ds: Dataset) -> bool:
    return "SE" in _codes(ds, "ScanningSequence") or "SPIN" in _codes(ds, "EchoPulseSequence")


def classify_sequence(ds: Dataset) -> SequenceName:
    """'STIR', 'T1' or 'OTHER' for one image of a series (see the module docstring)."""
    ti = inversion_time(ds)
    if is_inversion_recovery(ds):
        low, high = stir_ti_window(_number(ds, "MagneticFieldStrength"))
        return "STIR" if ti is not None and low <= ti <= high else "OTHER"
    tr = _number(ds, "RepetitionTime")
    te = _number(ds, "EchoTime")
    if te is None:
        te = _number(ds, "EffectiveEchoTime")  # Enhanced MR
    if (
        _is_spin_echo(ds)
        and tr is not None
        and te is not None
        and 0 < tr <= T1_MAX_TR_MS
        and 0 < te <= T1_MAX_TE_MS
    ):
        return "T1"
    return "OTHER"


@dataclass(frozen=True)
class SeriesGeometry:
    """What the Series row stores about a series' images."""

    orientation: str  # axial, coronal, sagittal or unknown
    pixel_spacing: tuple[float, float] | None  # (row, column) in mm
    slice_count: int
    slice_thickness: float | None
    echo_time: float | None
    repetition_time: float | None
    inversion_time: float | None
    field_strength: float | None


def orientation_label(image_orientation: Iterable[float] | None) -> str:
    """axial/coronal/sagittal by the axis the slice normal points along most."""
    try:
        cosines = [float(v) for v in image_orientation or []]
    except (TypeError, ValueError):
        return "unknown"
    if len(cosines) != 6:
        return "unknown"
    normal = np.cross(cosines[:3], cosines[3:])
    if not np.any(normal):
        return "unknown"
    return ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(normal)))]


def slice_position(ds: Dataset) -> float | None:
    """Position along the slice normal (mm): what stacks sort and synchronise on.

    Falls back to Slice Location when position or orientation is missing.
    """
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    try:
        if position is not None and orientation is not None and len(orientation) == 6:
            cosines = [float(v) for v in orientation]
            normal = np.cross(cosines[:3], cosines[3:])
            return float(np.dot(normal, [float(v) for v in position]))
    except (TypeError, ValueError):
        pass
    return _number(ds, "SliceLocation")


def series_geometry(datasets: Iterable[Dataset]) -> SeriesGeometry:
    """Orientation, spacing, slice count and timing of one series (the first image decides)."""
    images = list(datasets)
    if not images:
        raise ValueError("a series needs at least one image")
    first = images[0]
    spacing = _get(first, "PixelSpacing")
    try:
        pixel_spacing = (float(spacing[0]), float(spacing[1])) if spacing else None
    except (TypeError, ValueError, IndexError):
        pixel_spacing = None
    frames = sum(int(_number(ds, "NumberOfFrames") or 1) for ds in images)
    return SeriesGeometry(
        orientation=orientation_label(_get(first, "ImageOrientationPatient")),
        pixel_spacing=pixel_spacing,
        slice_count=frames,
        slice_thickness=_number(first, "SliceThickness"),
        echo_time=_number(first, "EchoTime") or _number(first, "EffectiveEchoTime"),
        repetition_time=_number(first, "RepetitionTime"),
        inversion_time=inversion_time(first),
        field_strength=_number(first, "MagneticFieldStrength"),
    )
