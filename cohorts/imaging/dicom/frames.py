"""What the import stores of one received file: single-frame images in an encoding the viewer
reads.

Enhanced MR (one multi-frame object per series, what current scanners send) is split into one
MR Image per frame, each with its own geometry and timing taken from the functional groups
(per-frame values over shared ones): Image Position and Orientation (Patient), Pixel Spacing,
slice thickness, TR, TE (Effective Echo Time), TI (the first Inversion Times value), window and
rescale. Every stored image is then a slice the viewer, the stack composition and the slice
sync treat alike. A frame's SOP Instance UID is derived from the object's (pseudonymized) UID
and the frame number, so a second import of the object adds nothing.

Compressed frames stay as they came (each frame is its own code stream); Deflated and Big
Endian datasets, which the viewer's DICOM parser does not read, are stored as Explicit VR
Little Endian, pixel values unchanged.
"""

from __future__ import annotations

import copy

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.multival import MultiValue
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    MRImageStorage,
)

from .deid import remap_uid

# Syntaxes stored as Explicit VR Little Endian (the viewer cannot parse them).
TRANSCODED_SYNTAXES = frozenset({DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian})
# Syntaxes that are lossy whatever Lossy Image Compression says.
LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # JPEG baseline
        "1.2.840.10008.1.2.4.51",  # JPEG extended
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000 (may be lossy; the lossless-only one is .90)
        "1.2.840.10008.1.2.4.203",  # HTJ2K (may be lossy)
    }
)

# Functional-group attributes copied to the top level of a frame's image.
_FLATTENED = (
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "RepetitionTime",
    "FlipAngle",
    "EchoTrainLength",
    "WindowCenter",
    "WindowWidth",
    "RescaleIntercept",
    "RescaleSlope",
    "RescaleType",
)
# Multi-frame structure an MR Image does not have.
_MULTI_FRAME_ONLY = (
    "NumberOfFrames",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "DimensionOrganizationSequence",
    "DimensionIndexSequence",
    "DimensionOrganizationType",
    "FrameIncrementPointer",
    "PixelData",
)


def is_lossy(ds: Dataset) -> bool:
    """The images were lossy-compressed at some time (now or in their history)."""
    if str(ds.get("LossyImageCompression", "") or "").strip() == "01":
        return True
    return str(ds.file_meta.get("TransferSyntaxUID", "")) in LOSSY_SYNTAXES


def has_burned_in_annotation(ds: Dataset) -> bool:
    return str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES"


def frame_count(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def stored_images(ds: FileDataset, *, uid_secret: bytes) -> list[FileDataset]:
    """The single-frame images to store for a de-identified dataset (see the module doc)."""
    if frame_count(ds) == 1:
        return [_viewer_encoding(ds)]
    return [_viewer_encoding(frame) for frame in _split(ds, uid_secret)]


def _viewer_encoding(ds: FileDataset) -> FileDataset:
    if ds.file_meta.TransferSyntaxUID not in TRANSCODED_SYNTAXES:
        return ds
    pixels = ds.pixel_array  # native order; written little endian below
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    return ds


def _macro_values(groups: Dataset | None) -> dict[str, object]:
    """The attributes inside one functional-groups item's macros, by keyword."""
    values: dict[str, object] = {}
    for macro in groups or ():
        if macro.VR != "SQ" or not macro.value:
            continue
        for element in macro.value[0]:
            if element.VR != "SQ" and element.keyword:
                values[element.keyword] = element.value
    return values


def _split(ds: FileDataset, uid_secret: bytes) -> list[FileDataset]:
    count = frame_count(ds)
    shared_items = ds.get("SharedFunctionalGroupsSequence") or [None]
    shared = _macro_values(shared_items[0])
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    encapsulated = ds.file_meta.TransferSyntaxUID.is_encapsulated
    if encapsulated:
        pixel_frames = list(generate_frames(ds.PixelData, number_of_frames=count))
    else:
        size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel") or 1)
        size = size * int(ds.BitsAllocated) // 8
        pixel_frames = [ds.PixelData[i * size : (i + 1) * size] for i in range(count)]
    frames = []
    for index in range(count):
        values = dict(shared)
        if index < len(per_frame):
            values.update(_macro_values(per_frame[index]))
        frame = _frame_dataset(ds, values, index, count, uid_secret)
        pixels = pixel_frames[index]
        frame.PixelData = encapsulate([pixels]) if encapsulated else pixels
        frame["PixelData"].VR = "OB" if encapsulated or int(ds.BitsAllocated) <= 8 else "OW"
        frame["PixelData"].is_undefined_length = encapsulated
        frames.append(frame)
    return frames


def _frame_dataset(
    ds: FileDataset, values: dict[str, object], index: int, count: int, uid_secret: bytes
) -> FileDataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ds.file_meta.TransferSyntaxUID
    meta.MediaStorageSOPClassUID = MRImageStorage
    frame = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    # The elements are the object's own, read in its encoding (copied as read when written).
    frame.set_original_encoding(*ds.original_encoding, ds.original_character_set)
    for element in ds:
        if element.keyword not in _MULTI_FRAME_ONLY:
            # A copy: setting a value below changes the element in place.
            frame.add(copy.copy(element))
    frame.SOPClassUID = MRImageStorage
    frame.SOPInstanceUID = remap_uid(f"{ds.SOPInstanceUID}/frame/{index + 1}", uid_secret)
    meta.MediaStorageSOPInstanceUID = frame.SOPInstanceUID
    frame.InstanceNumber = index + 1
    for keyword in _FLATTENED:
        if keyword in values:
            setattr(frame, keyword, values[keyword])
    if "EffectiveEchoTime" in values:
        frame.EchoTime = values["EffectiveEchoTime"]
    inversion = values.get("InversionTimes")
    if inversion:
        if isinstance(inversion, MultiValue | list | tuple):
            inversion = inversion[0]
        frame.InversionTime = inversion
        if "ScanOptions" not in frame:
            frame.ScanOptions = "IR"
    frame.DerivationDescription = f"Frame {index + 1} of {count} of a multi-frame image"
    return frame
