"""Real MR files from pydicom and pydicom-data, generated series, and the checks every import
path ends with: nothing identifying stored, pixels unchanged, nothing half-written."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.core.management import call_command
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from cohorts.imaging.dicom.deid import dicom_bytes, identifying_values, remap_uid
from cohorts.imaging.dicom.synthetic import synthetic_study
from cohorts.models import Instance

# Real MR files no one here wrote, each with a patient id (a file without one is refused).
REAL_MR_FILES = [
    "MR_small.dcm",  # explicit VR little endian, signed 16 bit
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR2_UNCR.dcm",  # pydicom-data, 1024 x 1024
    "MR2_J2KR.dcm",
    "MR2_J2KI.dcm",  # lossy JPEG 2000: stored as received, never re-encoded
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # private tags and overlays to remove
]
# Enhanced MR, multi-frame, without a Patient ID: imported onto a pinned patient.
ENHANCED_MR_FILES = ["emri_small.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm"]


def real_file(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom or pydicom-data)")
    return Path(path)


def real_files(names: Iterable[str] = REAL_MR_FILES) -> list[tuple[str, bytes]]:
    return [(name, real_file(name).read_bytes()) for name in names]


def synthetic_files(
    patient_id: str = "SRC-0042",
    *,
    name: str = "Testperson^Hilde",
    seed: int = 1,
    slices: int = 4,
    study_date: str | None = None,
) -> list[tuple[str, bytes]]:
    """A generated STIR and T1 series (slices each) with generated identifying values."""
    datasets = synthetic_study(
        patient_id=patient_id,
        patient_name=name,
        birth_date="19580214",
        grades={("rectus-femoris", "L"): (2, 1)},
        slices=slices,
        size=64,
        seed=seed,
    )
    for ds in datasets:
        if study_date:
            ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study_date
    return [
        (f"{ds.SeriesNumber:03d}/{i:04d}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)
    ]


def parse(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def identifying(files: Iterable[tuple[str, bytes]]) -> set[str]:
    """Every value de-identification must not let through, from the original files.

    Left out, as they identify nobody and turn up by chance: placeholders made only of zeros
    and punctuation ("00000" as a serial number, "-0400" as a time zone, found in kept numbers
    such as "6.000000"), and values contained in a value the profile keeps (institution
    "TOSHIBA" inside manufacturer "TOSHIBA_MEC").
    """
    values: set[str] = set()
    kept: set[str] = set()
    for _name, data in files:
        ds = parse(data)
        found = identifying_values(ds)
        values |= found
        kept |= {
            str(e.value)
            for e in ds.iterall()
            if e.VR not in ("SQ", "OB", "OW", "UN") and str(e.value) not in found
        }
    return {v for v in values if set(v) - set("0-+.:^ ") and not any(v in text for text in kept)}


def stored_bytes(media_root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in Path(media_root).rglob("*") if p.is_file()}


def database_dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", "cohorts", "scoring", stdout=out)
    return out.getvalue()


# Pixel bytes are the original's, unchanged (a test says so); short values such as "00000"
# or "-0400" turn up in them by chance, so only values this long are looked for there.
PIXEL_NEEDLE_MIN = 8


def _split_pixels(data: bytes) -> tuple[bytes, bytes]:
    """(every byte but the pixel data's value, the pixel data's value) of a stored file."""
    try:
        pixels = parse(data).get("PixelData") or b""
    except Exception:  # not DICOM: every byte is "header"
        return data, b""
    return data.replace(pixels, b"", 1) if pixels else data, pixels


def assert_nothing_identifying_stored(originals: Iterable[tuple[str, bytes]]) -> None:
    """No original identifying value in any byte under MEDIA_ROOT or in the database dump."""
    values = identifying(originals)
    assert values, "the originals should carry identifying values to look for"
    files = {path: _split_pixels(data) for path, data in stored_bytes(settings.MEDIA_ROOT).items()}
    assert files, "the import stored no file"
    dump = database_dump()
    for value in sorted(values):
        assert value not in dump, f"{value!r} is in the database"
        needle = value.encode("latin-1", "replace")
        for path, (header, pixels) in files.items():
            assert needle not in header, f"{value!r} is in {path}"
            if len(needle) >= PIXEL_NEEDLE_MIN:
                assert needle not in pixels, f"{value!r} is in the pixel data of {path}"


def stored_instance(original: bytes) -> Instance:
    sop = str(parse(original).SOPInstanceUID)
    return Instance.objects.get(sop_instance_uid=remap_uid(sop, settings.DICOM_UID_SECRET.encode()))


def assert_pixels_unchanged(original: bytes, *, same_encoding: bool = True) -> None:
    """The stored file decodes to the very pixels of the original (every frame), and keeps
    its encoding unless a sender transcoded it on the way (`same_encoding=False`)."""
    instance = stored_instance(original)
    with instance.file.open("rb") as handle:
        stored = parse(handle.read())
    before = parse(original)
    assert np.array_equal(stored.pixel_array, before.pixel_array)
    if same_encoding:
        assert stored.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID


def assert_nothing_written() -> None:
    from cohorts.models import ImagingStudy, Series

    assert not Instance.objects.exists()
    assert not Series.objects.exists()
    assert not ImagingStudy.objects.exists()
    assert not stored_bytes(settings.MEDIA_ROOT), "a file was left under MEDIA_ROOT"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
