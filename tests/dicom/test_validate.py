"""The import gate: every rejection reason with a real or constructed file; good MR files pass."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML, UID, MRImageStorage

from cohorts.imaging.dicom.validate import (
    NO_PIXEL_DATA,
    NOT_DICOM,
    NOT_MR,
    TRUNCATED,
    UNDECODABLE,
    UNSUPPORTED_TRANSFER_SYNTAX,
    DicomRejected,
    read_dicom,
    read_mr_image,
)


def local_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed locally")
    return str(path)


def to_bytes(ds: pydicom.Dataset, **kwargs) -> bytes:
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, **kwargs)
    return buffer.getvalue()


def as_mr(name: str) -> bytes:
    """A real file from another modality relabelled MR: real codec streams to decode."""
    ds = pydicom.dcmread(local_file(name))
    ds.Modality = "MR"
    ds.SOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    return to_bytes(ds)


def rejection(source: bytes | str, **kwargs) -> DicomRejected:
    with pytest.raises(DicomRejected) as caught:
        read_mr_image(source, **kwargs)
    assert "Traceback" not in caught.value.message
    return caught.value


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "emri_small_jpeg_2k_lossless.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
        "MR2_J2KI.dcm",
        "MR2_J2KR.dcm",
        "MR-SIEMENS-DICOM-WithOverlays.dcm",
    ],
)
def test_real_mr_files_are_accepted(name: str) -> None:
    ds = read_mr_image(local_file(name))
    assert ds.Modality == "MR"


@pytest.mark.parametrize(
    "name",
    ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "SC_jpeg_no_color_transform.dcm"],
)
def test_jpeg_lossless_and_baseline_mr_are_accepted(name: str) -> None:
    ds = read_mr_image(as_mr(name))
    assert ds.file_meta.TransferSyntaxUID.name.startswith("JPEG")


def test_a_bare_dataset_without_part10_header_is_read() -> None:
    data = Path(local_file("MR_small.dcm")).read_bytes()
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) group length
    bare = data[144 + meta_length :]  # no preamble, no file meta: explicit VR little endian
    assert bare[:2] == b"\x08\x00"
    assert read_mr_image(bare).Modality == "MR"


def test_pydicoms_truncated_file_is_truncated() -> None:
    error = rejection(local_file("MR_truncated.dcm"))
    assert error.reason_code == TRUNCATED
    assert "cut off" in error.message and error.filename == "MR_truncated.dcm"


def test_cut_encapsulated_pixel_data_is_truncated() -> None:
    error = rejection(local_file("emri_small_jpeg_2k_lossless_too_short.dcm"))
    assert error.reason_code == TRUNCATED


def test_a_file_cut_anywhere_is_rejected() -> None:
    data = Path(local_file("MR_small.dcm")).read_bytes()
    reasons = {rejection(data[:cut]).reason_code for cut in range(140, len(data) - 1, 37)}
    # a cut exactly between two elements leaves a well-formed file without pixel data
    assert reasons <= {TRUNCATED, NO_PIXEL_DATA} and TRUNCATED in reasons


@pytest.mark.parametrize(
    "data",
    [b"", b"Patient,Grade\nIIM-0001,2\n", b"%PDF-1.7\n" + b"\0" * 300, b"PK\x03\x04zip"],
)
def test_non_dicom_files_are_not_dicom(data: bytes) -> None:
    error = rejection(data, filename="notes.txt")
    assert error.reason_code == NOT_DICOM
    assert str(error).startswith("notes.txt: ")


def test_a_text_file_on_disk_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "readme.txt"
    path.write_text("not an image\n" * 40)
    assert rejection(str(path)).reason_code == NOT_DICOM


def test_ct_is_not_mr() -> None:
    error = rejection(local_file("CT_small.dcm"))
    assert error.reason_code == NOT_MR and "CT" in error.message


def test_mr_without_pixel_data_is_rejected() -> None:
    ds = pydicom.dcmread(local_file("MR_small.dcm"))
    del ds.PixelData
    error = rejection(to_bytes(ds))
    assert error.reason_code == NO_PIXEL_DATA and "no pixel data" in error.message


def test_an_unknown_transfer_syntax_is_unsupported() -> None:
    ds = pydicom.dcmread(local_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4.5.6")  # body stays explicit little endian
    error = rejection(to_bytes(ds))
    assert error.reason_code == UNSUPPORTED_TRANSFER_SYNTAX and "1.2.3.4.5.6" in error.message


def test_a_known_syntax_without_decoder_is_unsupported() -> None:
    ds = pydicom.dcmread(local_file("MR_small.dcm"))
    ds.PixelData = encapsulate([ds.PixelData])
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    error = rejection(to_bytes(ds))
    assert error.reason_code == UNSUPPORTED_TRANSFER_SYNTAX and "MPEG2" in error.message


def test_a_corrupt_jpeg_stream_is_undecodable() -> None:
    # pydicom's JPEG-lossy.dcm: a real 12-bit JPEG stream that no installed codec decodes
    error = rejection(as_mr("JPEG-lossy.dcm"))
    assert error.reason_code == UNDECODABLE and "could not be decoded" in error.message


def test_garbage_in_jpeg2000_frame_is_undecodable() -> None:
    ds = pydicom.dcmread(local_file("MR_small_jp2klossless.dcm"))
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x13" * 200])
    assert rejection(to_bytes(ds)).reason_code == UNDECODABLE


def test_pixel_data_shorter_than_the_image_is_truncated() -> None:
    ds = pydicom.dcmread(local_file("MR_small.dcm"))
    ds.PixelData = ds.PixelData[:-512]
    assert rejection(to_bytes(ds)).reason_code == TRUNCATED


def test_read_dicom_alone_does_not_check_modality() -> None:
    assert read_dicom(local_file("CT_small.dcm")).Modality == "CT"
