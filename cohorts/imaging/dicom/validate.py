"""Read one uploaded file into a dataset, or reject it with a reason a coordinator understands.

`read_mr_image` is the import's gate: it returns a dataset only for a complete DICOM MR image
whose pixel data this machine can decode; everything else raises `DicomRejected` with a
reason code (for counting and tests) and a message in plain words (for the import page).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.uid import (
    AllTransferSyntaxes,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

NOT_DICOM = "not_dicom"
TRUNCATED = "truncated"
NO_PIXEL_DATA = "no_pixel_data"
NOT_MR = "not_mr"
UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
UNDECODABLE = "undecodable_pixel_data"
DAMAGED_ATTRIBUTE = "damaged_attribute"

MR_STORAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color Image Storage
}
# A dataset written without the Part-10 header starts with a group 0008 element.
_RAW_DATASET_STARTS = (b"\x08\x00", b"\x00\x08")
_BARE_SYNTAX = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
    (True, False): ImplicitVRLittleEndian,  # not a valid encoding; pydicom reads it anyway
}


CONTROL_CHARACTERS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n")


class DicomRejected(Exception):
    """A file the import refuses; `reason_code` is one of the constants above."""

    def __init__(self, reason_code: str, message: str, *, filename: str = "") -> None:
        # Messages quote values of damaged files: no NUL or control characters may reach a
        # report, a log or a JSON column (Postgres refuses \u0000 in text and jsonb).
        message = message.translate(CONTROL_CHARACTERS)
        super().__init__(f"{filename}: {message}" if filename else message)
        self.reason_code = reason_code
        self.message = message
        self.filename = filename


class _TrackedBytes(io.BytesIO):
    """Notes every read that got fewer bytes than asked: how a cut-off file shows itself."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.short_reads: list[tuple[int, int]] = []

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if size is not None and size > 0 and len(chunk) < size:
            self.short_reads.append((size, len(chunk)))
        return chunk

    def was_cut(self) -> bool:
        # A complete file ends with one empty read where the next element's tag would be.
        partial = [got for _asked, got in self.short_reads if got]
        return bool(partial) or len(self.short_reads) > 1


def _load_bytes(source: bytes | str | os.PathLike) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), ""
    path = Path(source)
    return path.read_bytes(), path.name


def read_dicom(source: bytes | str | os.PathLike, *, filename: str = "") -> FileDataset:
    """Parse a complete DICOM file (Part 10, or a bare dataset); reject other or cut-off files."""
    data, path_name = _load_bytes(source)
    name = filename or path_name
    if not data:
        raise DicomRejected(NOT_DICOM, "The file is empty.", filename=name)
    has_header = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_header and data[:2] not in _RAW_DATASET_STARTS:
        raise DicomRejected(
            NOT_DICOM, "This is not a DICOM file (no 'DICM' marker).", filename=name
        )
    stream = _TrackedBytes(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(stream, force=not has_header)
        except InvalidDicomError as exc:
            message = f"This is not a DICOM file ({exc})."
            raise DicomRejected(NOT_DICOM, message, filename=name) from exc
        # Untrusted bytes: pydicom raises many kinds (struct.error, NotImplementedError for an
        # unknown VR, ...) for a damaged file, and every one of them is a rejection.
        except Exception as exc:
            cut = stream.was_cut() or isinstance(exc, EOFError)
            reason, words = (TRUNCATED, "is cut off") if cut else (NOT_DICOM, "cannot be parsed")
            message = f"The DICOM file {words} ({exc})."
            raise DicomRejected(reason, message, filename=name) from exc
    ended_early = any("end of file" in str(w.message).lower() for w in caught)
    if stream.was_cut() or ended_early:
        raise DicomRejected(
            TRUNCATED,
            "The file is cut off or damaged: it ends in the middle of a DICOM element "
            "(an incomplete upload or copy).",
            filename=name,
        )
    if len(ds) == 0:
        raise DicomRejected(NOT_DICOM, "The file holds no DICOM attributes.", filename=name)
    if "TransferSyntaxUID" not in ds.file_meta:  # a bare dataset: name what was read
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = _BARE_SYNTAX[(implicit, little)]
    return ds


def check_mr_image(ds: FileDataset, *, filename: str = "", decode: bool = True) -> None:
    """Reject a dataset that is not an MR image with decodable pixel data."""
    modality = str(ds.get("Modality", "") or "").strip()
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if modality != "MR" and sop_class not in MR_STORAGE_CLASSES:
        what = f"a {modality} image" if modality else "not an image of a known modality"
        raise DicomRejected(
            NOT_MR, f"This is {what}; only MR images can be imported.", filename=filename
        )
    if "PixelData" not in ds:
        raise DicomRejected(
            NO_PIXEL_DATA,
            "The file has no pixel data (a report, a structured document or a header only).",
            filename=filename,
        )
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None or syntax not in AllTransferSyntaxes:
        raise DicomRejected(
            UNSUPPORTED_TRANSFER_SYNTAX,
            f"The transfer syntax '{syntax}' is not a known DICOM encoding.",
            filename=filename,
        )
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        raise DicomRejected(
            UNSUPPORTED_TRANSFER_SYNTAX,
            f"Images encoded as '{syntax.name}' cannot be decoded here.",
            filename=filename,
        )
    if decode:
        _decode(ds, decoder, filename)


def _decode(ds: FileDataset, decoder: Decoder, filename: str) -> None:
    """Decode every frame once (without caching the array on the dataset)."""
    try:
        decoder.as_array(ds)
    except ValueError as exc:
        if "less than expected" in str(exc) or "shorter" in str(exc):
            raise DicomRejected(
                TRUNCATED,
                "The pixel data is shorter than the image size needs (the file is cut off "
                "or its image size is wrong).",
                filename=filename,
            ) from exc
        raise DicomRejected(UNDECODABLE, _undecodable(ds, exc), filename=filename) from exc
    except NotImplementedError as exc:
        raise DicomRejected(
            UNSUPPORTED_TRANSFER_SYNTAX, _undecodable(ds, exc), filename=filename
        ) from exc
    except (KeyboardInterrupt, SystemExit):
        raise
    # Codecs raise anything, even a Rust panic (pyo3's PanicException is a BaseException):
    # the file is the problem here.
    except BaseException as exc:
        raise DicomRejected(UNDECODABLE, _undecodable(ds, exc), filename=filename) from exc


def _undecodable(ds: FileDataset, exc: BaseException) -> str:
    syntax = ds.file_meta.TransferSyntaxUID
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"The '{syntax.name}' pixel data could not be decoded ({first_line[:200]})."


def read_mr_image(
    source: bytes | str | os.PathLike, *, filename: str = "", decode: bool = True
) -> FileDataset:
    """Read and check one file: a DICOM MR image whose pixel data decodes, or DicomRejected."""
    if not filename and not isinstance(source, bytes | bytearray | memoryview):
        filename = Path(source).name
    ds = read_dicom(source, filename=filename)
    check_mr_image(ds, filename=filename, decode=decode)
    return ds
