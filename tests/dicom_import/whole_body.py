"""Whole-body MR files built from pydicom's real MR_small.dcm (64 x 64, signed 16 bit) and
emri_small.dcm (Enhanced MR, 10 frames) with the positions and tags a test chooses: stations
of axial slices, and an Enhanced MR object given the functional groups a scanner writes."""

from __future__ import annotations

import io
import zlib

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from tests.dicom_import.conftest import real_file

PATIENT_ID = "WB-0001"
STUDY_UID = generate_uid(entropy_srcs=["whole-body study"])


def mr_slice(
    *,
    series: str,
    z: float,
    number: int,
    description: str = "STIR_TRA_WB",
    ti: float | None = 160.0,
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    frame_of_reference: str = "",
) -> Dataset:
    """One axial slice of a generated series at table position z (mm, + towards the head)."""
    ds = pydicom.dcmread(real_file("MR_small.dcm"))
    ds.PatientID, ds.PatientName = PATIENT_ID, "Wholebody^Test"
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[series])
    ds.SeriesNumber = zlib.crc32(series.encode()) % 900 + 1
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[series, str(z), str(number)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.FrameOfReferenceUID = frame_of_reference or generate_uid(entropy_srcs=[series, "for"])
    ds.SeriesDescription = description
    ds.MagneticFieldStrength = "1.5"
    if ti is None:
        for keyword in ("InversionTime", "ScanOptions"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.ScanningSequence, ds.RepetitionTime, ds.EchoTime = "SE", "550", "12"
    else:
        ds.ScanningSequence, ds.ScanOptions, ds.InversionTime = "IR", "IR", str(ti)
        ds.RepetitionTime, ds.EchoTime = "5000", "40"
    ds.ImageOrientationPatient = list(orientation)
    ds.ImagePositionPatient = [-100.0, -100.0, z]
    ds.SliceLocation = z
    ds.InstanceNumber = number
    return ds


def station(name: str, top: float, slices: int, step: float = 10.0, **kwargs) -> list[Dataset]:
    return [mr_slice(series=name, z=top - i * step, number=i + 1, **kwargs) for i in range(slices)]


def files_of(datasets: list[Dataset]) -> list[tuple[str, bytes]]:
    out = []
    for i, ds in enumerate(datasets):
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append((f"{i:04d}.dcm", buffer.getvalue()))
    return out


def enhanced_mr(*, ti: float = 220.0, te: float = 70.0, tr: float = 4500.0) -> Dataset:
    """pydicom-data's emri_small.dcm (10 frames, its functional groups stripped) given the
    functional groups a scanner writes: shared spacing, orientation, timing, echo and
    inversion; a position per frame, 5 mm apart from z = 40 downwards."""
    ds = pydicom.dcmread(real_file("emri_small.dcm"))
    ds.PatientID = "EMR-0001"
    ds.MagneticFieldStrength = "3"
    shared = Dataset()
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = [3.5, 3.5], 5.0
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    timing, echo, modifier = Dataset(), Dataset(), Dataset()
    timing.RepetitionTime, timing.FlipAngle = tr, 90.0
    echo.EffectiveEchoTime = te
    modifier.InversionRecovery, modifier.InversionTimes = "YES", [ti]
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    shared.MRTimingAndRelatedParametersSequence = DicomSequence([timing])
    shared.MREchoSequence = DicomSequence([echo])
    shared.MRModifierSequence = DicomSequence([modifier])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for index in range(int(ds.NumberOfFrames)):
        item, position, content = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [-112.0, -112.0, 40.0 - 5 * index]
        content.InStackPositionNumber = index + 1
        item.PlanePositionSequence = DicomSequence([position])
        item.FrameContentSequence = DicomSequence([content])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    return ds
