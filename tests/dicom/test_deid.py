"""De-identification on real MR files (pydicom's and pydicom-data's) and constructed datasets."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from cohorts.imaging.dicom.annex_e_actions import ACTIONS, STANDARD_REVISIONS
from cohorts.imaging.dicom.deid import (
    deidentify,
    dicom_bytes,
    identifying_values,
    patient_date_offset,
    remap_uid,
    shift_date,
    shift_datetime,
    source_patient_key,
)

REPO = Path(__file__).resolve().parents[2]
SECRET = b"test-uid-secret"
OFFSET = -1000
MR_FILES = [
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "emri_small.dcm",
    "emri_small_RLE.dcm",
    "emri_small_big_endian.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "MR2_J2KI.dcm",
    "MR2_J2KR.dcm",
    "MR2_UNCI.dcm",
    "MR2_UNCR.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
]


def local_file(name: str) -> str:
    """A shipped test file; never downloads (skips when the file is not installed)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed locally")
    return str(path)


def deid(ds: Dataset, **kwargs) -> Dataset:
    options = {"pseudonym": "IIM-0007", "date_offset_days": OFFSET, "uid_secret": SECRET}
    return deidentify(ds, **(options | kwargs))


def walk(ds: Dataset):
    """Every element, depth first, sequence items included."""
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from walk(item)


def kept_text(ds: Dataset) -> list[str]:
    """Values of attributes the profile keeps, e.g. Manufacturer "TOSHIBA_MEC", Slice Thickness."""
    return [
        str(e.value)
        for e in walk(ds)
        if not e.tag.is_private
        and int(e.tag) not in ACTIONS
        and not 0x5000 <= e.tag.group <= 0x60FF  # curves and overlays are removed whole
        and e.VR in ("LO", "SH", "CS", "LT", "ST", "DS", "IS")
    ]


@pytest.mark.parametrize("name", MR_FILES)
def test_no_identifying_value_survives_in_the_written_bytes(name: str) -> None:
    original = pydicom.dcmread(local_file(name))
    secrets = identifying_values(original)
    assert secrets, "the file should carry something to remove"
    kept = kept_text(original)
    # A value inside a kept attribute (institution 'TOSHIBA' in manufacturer 'TOSHIBA_MEC')
    # is no leak of the removed attribute; everything else must be gone.
    checked = {s for s in secrets if not any(s in k for k in kept)}

    ds = deid(pydicom.dcmread(local_file(name)))
    del ds.PixelData  # pixels are compared separately; random byte runs match short digits
    written = dicom_bytes(ds)
    leaks = {s for s in checked if s.encode("latin-1", "ignore") in written}
    assert not leaks
    reread = pydicom.dcmread(pydicom.filebase.DicomBytesIO(written))
    assert not identifying_values(reread) & checked


@pytest.mark.parametrize("name", MR_FILES)
def test_private_tags_and_overlays_are_gone_at_every_depth(name: str) -> None:
    ds = deid(pydicom.dcmread(local_file(name)))
    reread = pydicom.dcmread(pydicom.filebase.DicomBytesIO(dicom_bytes(ds)))
    groups = {e.tag.group for e in walk(reread)}
    assert not [g for g in groups if g % 2 == 1]
    assert not [g for g in groups if 0x5000 <= g <= 0x60FF]


@pytest.mark.parametrize("name", MR_FILES)
def test_pixel_data_is_unchanged(name: str) -> None:
    original = pydicom.dcmread(local_file(name))
    ds = deid(pydicom.dcmread(local_file(name)))
    reread = pydicom.dcmread(pydicom.filebase.DicomBytesIO(dicom_bytes(ds)))
    assert reread.PixelData == original.PixelData
    np.testing.assert_array_equal(reread.pixel_array, original.pixel_array)
    assert reread.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert reread.SOPClassUID == original.SOPClassUID


@pytest.mark.parametrize("name", ["MR_small.dcm", "emri_small.dcm", "MR2_UNCI.dcm"])
def test_dates_move_by_exactly_the_offset(name: str) -> None:
    original = pydicom.dcmread(local_file(name))
    ds = deid(pydicom.dcmread(local_file(name)))
    day = dt.datetime.strptime(original.StudyDate, "%Y%m%d").date()
    assert ds.StudyDate == (day + dt.timedelta(days=OFFSET)).strftime("%Y%m%d")
    assert ds.StudyTime == original.StudyTime  # time of day kept
    assert not ds.get("PatientBirthDate")  # Basic Profile: Z, not shifted


def test_acquisition_datetime_keeps_time_and_fraction() -> None:
    ds = deid(pydicom.dcmread(local_file("emri_small.dcm")))
    assert ds.AcquisitionDateTime == "20091124120804.06"  # 2012-08-20 minus 1000 days


def test_same_source_uid_gives_same_new_uid_across_calls() -> None:
    first = deid(pydicom.dcmread(local_file("MR_small.dcm")))
    second = deid(pydicom.dcmread(local_file("MR_small.dcm")))
    original = pydicom.dcmread(local_file("MR_small.dcm"))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert first[keyword].value == second[keyword].value != original[keyword].value
        assert first[keyword].value == remap_uid(original[keyword].value, SECRET)
    other = deid(pydicom.dcmread(local_file("MR_small.dcm")), uid_secret=b"another secret")
    assert other.SOPInstanceUID != first.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID


def test_remapped_uid_is_a_valid_2_25_uid() -> None:
    uid = remap_uid("1.2.3.4", SECRET)
    assert uid.startswith("2.25.") and len(uid) <= 64 and uid[5] != "0"
    assert pydicom.uid.UID(uid).is_valid
    assert remap_uid("1.2.3.4", SECRET) == uid == remap_uid("1.2.3.4\0", SECRET)


def test_marks_are_set() -> None:
    ds = deid(pydicom.dcmread(local_file("MR_small.dcm")))
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = {(i.CodingSchemeDesignator, i.CodeValue) for i in ds.DeidentificationMethodCodeSequence}
    assert codes == {("DCM", "113100"), ("DCM", "113107")}
    assert all(len(v) <= 64 for v in ds.DeidentificationMethod)
    assert ds.PatientName == "IIM-0007" and ds.PatientID == "IIM-0007"


def test_blind_label_replaces_the_pseudonym_for_readers() -> None:
    ds = deid(pydicom.dcmread(local_file("MR_small.dcm")), blind_patient_name="R-7Q4K")
    written = dicom_bytes(ds)
    assert ds.PatientName == "R-7Q4K" and ds.PatientID == "R-7Q4K"
    assert b"IIM-0007" not in written


def nested_dataset() -> Dataset:
    """An MR header with identifying values and private tags two sequence levels deep."""
    ds = Dataset()
    ds.PatientName = "Nested^Secret"
    ds.PatientID = "SECRET-ID-42"
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.2.1125.1.99"
    ds.StudyDate = "20200229"
    ds.add_new(0x00291010, "LO", "PRIVATE-TOP-SECRET")
    inner = Dataset()
    inner.PatientName = "Inner^Secret"
    inner.ReferencedSOPClassUID = MRImageStorage
    inner.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.1.77"
    inner.ObservationDateTime = "20200301101010.5+0100"
    inner.add_new(0x00431001, "LO", "PRIVATE-INNER-SECRET")
    outer = Dataset()
    outer.ContentSequence = Sequence([inner])  # D: kept, cleaned recursively
    outer.PersonName = "Outer^Secret"
    outer.add_new(0x00091001, "SH", "PRIV-OUTER")
    ds.ReferencedSeriesSequence = Sequence([outer])  # not in the table: kept, recursed
    ds.OtherPatientIDsSequence = Sequence([Dataset()])  # X
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "SCANNER_AE"
    return ds


def test_nested_sequences_are_cleaned() -> None:
    ds = deid(nested_dataset())
    written = dicom_bytes(ds)
    for secret in (
        b"Secret",
        b"SECRET-ID-42",
        b"PRIV",
        b"1.2.826.0.1.3680043.2.1125.1.77",
        b"1.2.826.0.1.3680043.2.1125.1.99",
        b"20200229",
        b"20200301",
        b"SCANNER_AE",
    ):
        assert secret not in written
    outer = ds.ReferencedSeriesSequence[0]
    inner = outer.ContentSequence[0]
    assert not inner.PatientName and outer.PersonName == "ANONYMIZED"
    assert inner.ReferencedSOPClassUID == MRImageStorage  # class UIDs kept
    assert inner.ReferencedSOPInstanceUID == remap_uid("1.2.826.0.1.3680043.2.1125.1.77", SECRET)
    assert inner.ObservationDateTime == "20170605101010.5+0100"
    assert "OtherPatientIDsSequence" not in ds
    assert not [e for e in walk(ds) if e.tag.is_private]


def test_unknown_dates_and_uids_are_treated_safely() -> None:
    ds = nested_dataset()
    ds.add_new(0x00189074, "DT", "20200229080000")  # Frame Acquisition DateTime
    ds.add_new(0x0040A124, "UI", "1.2.3.4.5.6")  # UID (table: U)
    ds.add_new(0x00080106, "DT", "2020")  # partial date: a day shift has no meaning
    deid(ds)
    assert ds[0x00189074].value == "20170604080000"
    assert ds[0x0040A124].value == remap_uid("1.2.3.4.5.6", SECRET)
    assert not ds[0x00080106].value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240101", "20210406"),
        ("2024.01.01", "20210406"),
        ("20241301", ""),
        ("2024", ""),
        ("garbage!", ""),
        ("", ""),
    ],
)
def test_shift_date_never_returns_the_original(value: str, expected: str) -> None:
    assert shift_date(value, OFFSET) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240101123456.123456+0200", "20210406123456.123456+0200"),
        ("20240101", "20210406"),
        ("202401", ""),
        ("20240101xx", ""),
    ],
)
def test_shift_datetime_keeps_time_fraction_and_zone(value: str, expected: str) -> None:
    assert shift_datetime(value, OFFSET) == expected


def test_patient_key_and_offset_are_deterministic_and_in_range() -> None:
    key = source_patient_key("PAT-123", b"pepper")
    assert key == source_patient_key(" PAT-123 ", b"pepper")
    assert key != source_patient_key("PAT-124", b"pepper")
    assert len(key) == 64 and "PAT" not in key
    offsets = {patient_date_offset(source_patient_key(str(i), b"p"), b"s") for i in range(200)}
    assert all(-3650 <= o <= -365 for o in offsets) and len(offsets) > 150
    assert patient_date_offset(key, b"s") == patient_date_offset(key, b"s")


def test_generated_table_matches_the_standard_files(tmp_path: Path) -> None:
    out = tmp_path / "annex_e_actions.py"
    script = REPO / "scripts" / "generate_deid_table.py"
    # From the copy of the standard's table kept in scripts/dicom-standard/ (the default).
    subprocess.run([sys.executable, str(script), "--output", str(out)], check=True)
    committed = (REPO / "cohorts" / "imaging" / "dicom" / "annex_e_actions.py").read_text()
    assert out.read_text() == committed
    assert STANDARD_REVISIONS == ("2024e", "2026c")


def test_table_resolves_combined_codes_for_mr_images() -> None:
    table = importlib.import_module("cohorts.imaging.dicom.annex_e_actions").ACTIONS
    assert table[0x00100010] == "Z"  # Patient's Name: kept present, pseudonym written
    assert table[0x00100020] == "Z"  # Patient ID Z/D, type 2
    assert table[0x00080080] == "X"  # Institution Name X/Z/D, type 3
    assert table[0x00081140] == "X"  # Referenced Image Sequence X/Z/U*, type 3
    assert table[0x00080020] == "C"  # Study Date: option overrides Z
    assert table[0x00080030] == "C"  # Study Time
    assert table[0x0020000D] == "U" and table[0x00080018] == "U"
    assert table[0x00100030] == "Z"  # birth date: no option column, emptied
