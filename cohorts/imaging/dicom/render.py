"""One slice of a stored DICOM file as a lossless 16-bit grey PNG, without Django.

The PNG holds the stored pixel values (shifted up when some are negative, since PNG samples
are unsigned); the caller passes the shift, the rescale and the default window on to the
browser, which windows the values itself. Nothing of the DICOM header goes into the PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import pixel_array


class SliceNotFound(LookupError):
    """The file has no such frame."""


@dataclass(frozen=True)
class SliceRendition:
    png: bytes
    window_center: float
    window_width: float
    value_offset: int  # PNG sample + value_offset = the stored pixel value
    rescale_slope: float
    rescale_intercept: float


def _first(value: object) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _frame_voi(ds: Dataset, frame: int) -> tuple[float | None, float | None]:
    """Window centre and width: top level, else the frame's (or shared) Frame VOI LUT."""
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width:
        return center, width
    for keyword, index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(keyword)
        if groups and index < len(groups) and "FrameVOILUTSequence" in groups[index]:
            voi = groups[index].FrameVOILUTSequence[0]
            center, width = _first(voi.get("WindowCenter")), _first(voi.get("WindowWidth"))
            if center is not None and width:
                return center, width
    return None, None


def slice_png(data: bytes, *, frame: int = 0) -> SliceRendition:
    """Frame `frame` of a DICOM Part-10 file as a 16-bit PNG with its default window."""
    ds = pydicom.dcmread(io.BytesIO(data))
    frames = int(ds.get("NumberOfFrames") or 1)
    if not 0 <= frame < frames:
        raise SliceNotFound(f"frame {frame} of {frames}")
    pixels = pixel_array(ds, index=frame if frames > 1 else None)
    if pixels.ndim != 2:
        raise SliceNotFound("only single-sample (grey) images are rendered")
    values = pixels.astype(np.int32)
    low = int(values.min()) if values.size else 0
    offset = min(low, 0)
    png = io.BytesIO()
    # Fast deflate: the image goes to one browser and is cached there.
    Image.fromarray((values - offset).astype(np.uint16)).save(png, format="PNG", compress_level=1)
    slope = _first(ds.get("RescaleSlope")) or 1.0
    intercept = _first(ds.get("RescaleIntercept")) or 0.0
    center, width = _frame_voi(ds, frame)
    if center is None or not width:
        # No window in the file: span the 0.5-99.5 percentiles of the modality values.
        lo, hi = np.percentile(values, [0.5, 99.5]) * slope + intercept
        center, width = float(lo + hi) / 2, max(float(hi - lo), 1.0)
    return SliceRendition(
        png=png.getvalue(),
        window_center=center,
        window_width=width,
        value_offset=offset,
        rescale_slope=slope,
        rescale_intercept=intercept,
    )
