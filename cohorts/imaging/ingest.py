"""DICOM import: every path (upload, folder/zip, C-STORE listener, DICOMweb pull) ends here.

One file at a time: read and check it, de-identify it in memory, keep only its metadata and
its pseudonymized bytes in a staging file; then, series by series, store the files and write
Patient / ImagingStudy / Series / Instance rows in one transaction. A series with any rejected
file is stored not at all (all-or-nothing per series); re-importing the same files adds nothing.

Speed matters here (issue 3 measures files per second against Orthanc), so each file is parsed
once and written once: native pixel data is checked by its length instead of being decoded (a
compressed frame is still decoded, since only decoding shows it is sound), the Part-10 file is
encoded without pydicom's defensive copies, and the staged bytes of all files go to one
anonymous temporary file (creating a file costs more than writing 128 KB to one), which the
system deletes even if the process dies. Memory stays flat in the number of files: only a few
numbers per file are kept until the series is stored.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import posixpath
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from pydicom import __version__ as pydicom_version
from pydicom.charset import default_encoding
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset
from pydicom.multival import MultiValue
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from cohorts.audit import audit_record
from cohorts.imaging.dicom.classify import classify_sequence, orientation_label
from cohorts.imaging.dicom.deid import deidentify, dicom_bytes, patient_date_offset
from cohorts.imaging.dicom.describe import clean_description, series_role
from cohorts.imaging.dicom.frames import has_burned_in_annotation, is_lossy, stored_images
from cohorts.imaging.dicom.validate import (
    CONTROL_CHARACTERS,
    DAMAGED_ATTRIBUTE,
    TRUNCATED,
    UNDECODABLE,
    DicomRejected,
    check_mr_image,
    read_mr_image,
)
from cohorts.models import Cohort, ImagingStudy, Instance, Patient, Series, instance_upload_path
from cohorts.services import AGE_MAX, patient_create, source_key_for, study_create

SERIES_REJECTED = (
    "Not stored: another file of this series names a different patient, so the series is in doubt."
)
NO_PATIENT_ID = "no_patient_id"
NO_UIDS = "no_uids"
UID_CONFLICT = "uid_conflict"
STUDY_IN_OTHER_COHORT = "study_in_other_cohort"
# README, "A study sent for a second cohort": refused, and the sender is told.
STUDY_IN_OTHER_COHORT_MESSAGE = (
    "Study already in another cohort: a study belongs to one cohort. Score it in the cohort "
    "that holds it (its coordinator can add readers), or send it to that cohort's listener."
)
PIXELS_SHORT = (
    "The pixel data is shorter than the image size needs (the file is cut off or its image "
    "size is wrong)."
)
PIXELS_MALFORMED = "The image attributes are missing or impossible ({detail})."
_EMPTY_PREAMBLE = b"\0" * 128
_UNDEFINED_LENGTH = 0xFFFFFFFF
_IMPLEMENTATION_VERSION = f"PYDICOM {pydicom_version}"[:16]


@dataclass
class FileReport:
    name: str
    status: str  # imported | duplicate | rejected | skipped
    reason: str = ""
    reason_code: str = ""
    series_uid: str = ""  # pseudonymized


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    patients_created: int = 0
    new_patients: list[str] = field(default_factory=list)  # their pseudonyms
    studies_created: int = 0
    series_created: int = 0
    instances_created: int = 0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "imported": self.count("imported"),
            "duplicates": self.count("duplicate"),
            "rejected": self.count("rejected"),
            "skipped": self.count("skipped"),
            "patients_created": self.patients_created,
            "studies_created": self.studies_created,
            "series_created": self.series_created,
            "instances_created": self.instances_created,
        }


@dataclass
class _StagedInstance:
    report: FileReport
    sop_uid: str
    instance_number: int | None
    slice_location: float | None
    position: float | None
    rows: int
    columns: int
    window_center: float | None
    window_width: float | None
    lossy: bool
    burned_in_annotation: bool
    offset: int  # where the pseudonymized file sits in the staging file
    size: int


@dataclass
class _StagedSeries:
    source_patient_key: str
    study_uid: str
    series_uid: str
    header: Dataset  # the first file's attributes without pixel data
    original: dict | None = None  # see _original_attributes
    instances: list[_StagedInstance] = field(default_factory=list)
    rejected: bool = False


def _number(ds: Dataset, keyword: str) -> float | None:
    """A numeric attribute (the first value of a multi-valued one), None when absent or bad."""
    value = ds.get(keyword)
    if isinstance(value, MultiValue):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _integer(ds: Dataset, keyword: str) -> int | None:
    """An integer attribute, None when absent, zero or not a number (damaged files exist)."""
    try:
        return int(ds.get(keyword) or 0) or None
    except (TypeError, ValueError):
        return None


def _stored_text(ds: Dataset, keyword: str, limit: int) -> str:
    """A text attribute as the database keeps it: no NUL or other control characters (DICOM
    pads with NUL; a damaged file holds anything), cut to the column's length."""
    return str(ds.get(keyword, "") or "").translate(CONTROL_CHARACTERS).strip()[:limit]


def _spacing(ds: Dataset) -> str:
    try:
        return "\\".join(str(float(v)) for v in ds.get("PixelSpacing") or ())
    except (TypeError, ValueError):
        return ""


def _original_attributes(ds: Dataset) -> dict:
    """The few original values the database keeps: the sequence class (from TR/TE/TI), sex
    and age in years, and the series description cleaned to protocol words (free text the
    profile removes: it can name the patient; see dicom/describe.py)."""
    age = str(ds.get("PatientAge", "") or "")
    sex = str(ds.get("PatientSex", "") or "").upper()
    return {
        "sequence": classify_sequence(ds),
        "description": clean_description(str(ds.get("SeriesDescription", "") or "")),
        "sex": sex if sex in ("F", "M") else "U",
        "age": int(age[:3]) if age[:3].isdigit() and age.endswith("Y") else None,
    }


def _shifted_date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value.strip(), "%Y%m%d").date()  # noqa: DTZ007 - a date
    except (ValueError, AttributeError):
        return None


def dicom_import(
    *,
    cohort: Cohort,
    files: Iterable[tuple[str, bytes]],
    actor: AbstractBaseUser | None,
    progress: Callable[[FileReport], None] | None = None,
    patient: Patient | None = None,
) -> ImportReport:
    """Import (name, bytes) pairs into `cohort`; see the module doc. `patient` pins every file
    to an existing patient (demo seed); otherwise patients are found by their source key."""
    report = ImportReport()
    staged: dict[str, _StagedSeries] = {}
    uid_secret = settings.DICOM_UID_SECRET.encode()
    with tempfile.TemporaryFile(prefix="iim-import-") as staging:
        for name, payload in files:
            file_report = FileReport(name=name, status="rejected")
            report.files.append(file_report)
            try:
                # A damaged file is a rejection that names it, never a crash of the import.
                with _damaged_file_rejected(name):
                    _stage_file(
                        name,
                        payload,
                        file_report,
                        staged,
                        staging,
                        pinned_patient=patient,
                        uid_secret=uid_secret,
                    )
            except DicomRejected as exc:
                file_report.reason, file_report.reason_code = exc.message, exc.reason_code
                # A damaged or unsupported file fails alone (DESIGN.md: a good file is never
                # dropped for a bad neighbour); a file naming another patient than its series
                # does puts the whole series in doubt.
                if exc.reason_code == UID_CONFLICT:
                    _reject_series_of(staged, payload)
                if progress:
                    progress(file_report)
        staging.flush()
        for series in staged.values():
            _store_series(cohort, series, report, staging, actor=actor, pinned_patient=patient)
            if progress:
                # An Enhanced MR file is one report for all the frames it was split into.
                for file_report in {id(i.report): i.report for i in series.instances}.values():
                    progress(file_report)
    return report


# What pydicom raises for a value it cannot read (an unknown VR, a number that is not one,
# text that does not encode): in a file from outside, each means a damaged file.
DAMAGED_VALUE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    struct.error,
)


@contextmanager
def _damaged_file_rejected(name: str) -> Iterator[None]:
    """Turn an error reading or writing one of the file's values into its rejection."""
    try:
        yield
    except DAMAGED_VALUE_ERRORS as exc:
        raise DicomRejected(
            DAMAGED_ATTRIBUTE,
            f"The file has a damaged attribute ({type(exc).__name__}: {exc}).",
            filename=name,
        ) from exc


def check_importable(payload: bytes, *, name: str = "", pinned: bool = False) -> FileDataset:
    """The per-file gate every path shares: a decodable MR image with a patient id and
    study/series UIDs, or DicomRejected with a reason (the C-STORE listener answers with it)."""
    with _damaged_file_rejected(name):
        return _checked_importable(payload, name=name, pinned=pinned)


def _checked_importable(payload: bytes, *, name: str, pinned: bool) -> FileDataset:
    ds = read_mr_image(payload, filename=name, decode=False)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        check_mr_image(ds, filename=name, decode=True)  # only decoding proves a frame sound
    else:
        _check_native_pixel_length(ds, name)
    if not pinned and not str(ds.get("PatientID", "") or "").strip():
        raise DicomRejected(
            NO_PATIENT_ID,
            "The file has no Patient ID, so it cannot be assigned to a patient.",
            filename=name,
        )
    missing = [
        keyword
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
        if not str(ds.get(keyword, "") or "").strip()
    ]
    if missing:
        raise DicomRejected(NO_UIDS, f"The file lacks its {', '.join(missing)}.", filename=name)
    return ds


def _check_native_pixel_length(ds: FileDataset, name: str) -> None:
    """Native (uncompressed) pixel data decodes exactly when it holds Rows x Columns x
    Samples x BitsAllocated/8 x Frames bytes (padding allowed): check that, without decoding."""
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames") or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise DicomRejected(
            UNDECODABLE, PIXELS_MALFORMED.format(detail=detail), filename=name
        ) from exc
    if min(rows, columns, samples, frames) < 1 or bits not in (1, 8, 16, 32, 64):
        detail = f"{rows} x {columns} pixels, {samples} samples, {bits} bits, {frames} frames"
        raise DicomRejected(UNDECODABLE, PIXELS_MALFORMED.format(detail=detail), filename=name)
    needed = math.ceil(rows * columns * samples * frames * bits / 8)
    if len(ds.PixelData) < needed:
        raise DicomRejected(TRUNCATED, PIXELS_SHORT, filename=name)


def _position_along_normal(ds: Dataset) -> float | None:
    """Image Position (Patient) along the slice normal, in mm (Slice Location without them):
    classify.slice_position's projection, in plain arithmetic (numpy costs more than the whole
    rest of the geometry for three-element vectors), with the normal turned to point along
    its dominant axis's positive direction, as stacks are composed (cohorts/imaging/stacks.py)."""
    position, cosines = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    try:
        if position is not None and cosines is not None and len(cosines) == 6:
            rx, ry, rz, cx, cy, cz = (float(v) for v in cosines)
            x, y, z = (float(v) for v in position)
            normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
            # Stations of one stack may be acquired with opposite normals: count every
            # slice along the axis the normal points along most, in its positive direction.
            sign = 1.0 if max(normal, key=abs) >= 0 else -1.0
            return sign * (normal[0] * x + normal[1] * y + normal[2] * z)
    except (TypeError, ValueError):
        pass
    return _number(ds, "SliceLocation")


def _meta_element(tag: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b" " if vr == b"SH" else b"\0"  # text pads with a space, UIs with NUL
    head = (tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little") + vr
    if vr == b"OB":
        return head + b"\0\0" + len(value).to_bytes(4, "little") + value
    return head + len(value).to_bytes(2, "little") + value


def _part10_bytes(ds: FileDataset) -> bytes:
    """The de-identified dataset as a Part-10 file: what deid.dicom_bytes writes, without
    dcmwrite's deep copy and re-validation of the file meta (a fifth of the import's time).

    The file meta is written here from the dataset's own class, instance and transfer
    syntax, with this software's implementation UID: nothing else of the source's meta."""
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax == DeflatedExplicitVRLittleEndian or not syntax.is_transfer_syntax:
        return dicom_bytes(ds)  # rare encodings: pydicom's general path
    meta = b"".join(
        (
            _meta_element(0x00020001, b"OB", b"\0\1"),
            _meta_element(0x00020002, b"UI", str(ds.SOPClassUID).encode("ascii")),
            _meta_element(0x00020003, b"UI", str(ds.SOPInstanceUID).encode("ascii")),
            _meta_element(0x00020010, b"UI", str(syntax).encode("ascii")),
            _meta_element(0x00020012, b"UI", PYDICOM_IMPLEMENTATION_UID.encode("ascii")),
            _meta_element(0x00020013, b"SH", _IMPLEMENTATION_VERSION.encode("ascii")),
        )
    )
    fp = DicomBytesIO()
    fp.write(_EMPTY_PREAMBLE + b"DICM")
    fp.write(_meta_element(0x00020000, b"UL", len(meta).to_bytes(4, "little")) + meta)
    fp.is_implicit_VR = syntax == ImplicitVRLittleEndian
    fp.is_little_endian = syntax != ExplicitVRBigEndian
    if "PixelData" in ds:  # PS3.5 A.4: encapsulated pixel data has undefined length
        ds["PixelData"].is_undefined_length = syntax.is_encapsulated
    same_encoding = ds.original_encoding == (fp.is_implicit_VR, fp.is_little_endian)
    if same_encoding and not fp.is_implicit_VR and fp.is_little_endian:
        _write_explicit_little(fp, ds)
    else:
        write_dataset(fp, ds)
    return fp.getvalue()


def _write_explicit_little(fp: DicomBytesIO, ds: Dataset) -> None:
    """pydicom's write_dataset for an explicit VR little endian dataset read as such, except
    that an element de-identification left untouched (still raw) is copied as read, header
    and all, instead of going through the general writer (half the elements of a file)."""
    if ds.original_character_set != ds._character_set:
        write_dataset(fp, ds)  # re-encoding text: the general path
        return
    charset = ds.get("SpecificCharacterSet", default_encoding)
    for tag in sorted(ds.keys()):
        if tag.element == 0 and tag.group > 6:
            continue  # retired group lengths (PS3.5 7.2)
        elem = ds.get_item(tag)
        value = elem.value if elem.is_raw else None
        if (
            value is None
            or elem.VR is None
            or elem.VR == "SQ"
            or elem.length == _UNDEFINED_LENGTH
            or len(value) % 2
        ):
            write_data_element(fp, elem, charset)
            continue
        head = tag.group.to_bytes(2, "little") + tag.element.to_bytes(2, "little")
        vr = elem.VR.encode("ascii")
        if elem.VR in EXPLICIT_VR_LENGTH_32:
            fp.write(head + vr + b"\0\0" + len(value).to_bytes(4, "little") + value)
        elif len(value) <= 0xFFFF:
            fp.write(head + vr + len(value).to_bytes(2, "little") + value)
        else:
            write_data_element(fp, elem, charset)  # pydicom's rule for values too long


def _stage_file(
    name: str,
    payload: bytes,
    file_report: FileReport,
    staged: dict[str, _StagedSeries],
    staging: BinaryIO,
    *,
    pinned_patient: Patient | None,
    uid_secret: bytes,
) -> None:
    """Check, de-identify and stage one file under its series (raises DicomRejected)."""
    ds = _checked_importable(payload, name=name, pinned=pinned_patient is not None)
    if pinned_patient is not None:
        source_key = pinned_patient.source_key
    else:
        source_key = source_key_for(str(ds.PatientID).strip())
    source_series = str(ds.SeriesInstanceUID)
    series = staged.get(source_series)
    if series is not None and not series.rejected and series.source_patient_key != source_key:
        raise DicomRejected(
            UID_CONFLICT,
            "Another file of this series names a different patient; the series is refused.",
            filename=name,
        )
    # Sex, age and the sequence class come from the original, before de-identification.
    original = _original_attributes(ds) if series is None else None
    lossy, burned_in = is_lossy(ds), has_burned_in_annotation(ds)
    offset = patient_date_offset(source_key or str(pinned_patient.pk), uid_secret)
    deidentify(ds, pseudonym="PSEUDONYM", date_offset_days=offset, uid_secret=uid_secret)
    images = stored_images(ds, uid_secret=uid_secret)
    # Encoded before anything is staged: a value that cannot be written rejects the file alone.
    # The preamble is written empty: a TIFF header or vendor bytes there are not ours to keep.
    encoded = [(image, _part10_bytes(image)) for image in images]
    if series is None:
        header = Dataset()
        for element in images[0]:
            if element.tag != 0x7FE00010:  # keep the attributes, not the pixels
                header.add(element)
        series = staged[source_series] = _StagedSeries(
            source_patient_key=source_key,
            study_uid=str(ds.StudyInstanceUID),
            series_uid=str(ds.SeriesInstanceUID),
            header=header,
            original=original,
        )
    file_report.series_uid = series.series_uid
    for image, data in encoded:
        offset = staging.tell()
        staging.write(data)
        series.instances.append(
            _StagedInstance(
                report=file_report,
                sop_uid=str(image.SOPInstanceUID),
                instance_number=_integer(image, "InstanceNumber"),
                slice_location=_number(image, "SliceLocation"),
                position=_position_along_normal(image),
                rows=_integer(image, "Rows") or 0,
                columns=_integer(image, "Columns") or 0,
                window_center=_number(image, "WindowCenter"),
                window_width=_number(image, "WindowWidth"),
                lossy=lossy,
                burned_in_annotation=burned_in,
                offset=offset,
                size=len(data),
            )
        )
    file_report.status = "staged"


def _staged_bytes(staging: BinaryIO, staged: _StagedInstance) -> bytes:
    return os.pread(staging.fileno(), staged.size, staged.offset)


def _reject_series_of(staged: dict[str, _StagedSeries], payload: bytes) -> None:
    """A file that names another patient than its series takes the whole series down."""
    try:
        import pydicom

        ds = pydicom.dcmread(
            pydicom.filebase.DicomBytesIO(payload),
            stop_before_pixels=True,
            force=True,
            specific_tags=["SeriesInstanceUID"],
        )
        uid = str(ds.get("SeriesInstanceUID", "") or "")
    except Exception:  # an unreadable file names no series
        return
    if uid:
        staged.setdefault(uid, _StagedSeries("", "", "", Dataset())).rejected = True


def _store_series(
    cohort: Cohort,
    series: _StagedSeries,
    report: ImportReport,
    staging: BinaryIO,
    *,
    actor: AbstractBaseUser | None,
    pinned_patient: Patient | None,
) -> None:
    if series.rejected:
        for instance in series.instances:
            instance.report.status, instance.report.reason = "skipped", SERIES_REJECTED
        return
    try:
        with transaction.atomic():
            row = _series_row_locked(cohort, series, report, actor, pinned_patient)
            _remove_orphan_files(row)
            written: list[str] = []
            try:
                new_rows = _write_instances(row, series, staging, written)
                Instance.objects.bulk_create(new_rows, batch_size=1000)
                if new_rows:
                    row.slice_count = row.instances.count()
                    row.lossy |= any(i.lossy for i in series.instances)
                    row.burned_in_annotation |= any(
                        i.burned_in_annotation for i in series.instances
                    )
                    row.save(update_fields=["slice_count", "lossy", "burned_in_annotation"])
                    report.instances_created += len(new_rows)
                    audit_record(
                        actor=actor,
                        action="dicom.import",
                        target=row,
                        cohort=cohort,
                        new={"instances": len(new_rows), "sequence": row.sequence},
                    )
            except BaseException:
                # Rolling back: no file may outlive its row. Deleted before the rollback
                # releases the series, so no file another import stores there goes too.
                for name in written:
                    default_storage.delete(name)
                raise
    except Exception as exc:
        message = exc.message if isinstance(exc, DicomRejected) else f"Not stored: {exc}"
        for staged in series.instances:
            staged.report.status, staged.report.reason = "rejected", message
        if not isinstance(exc, DicomRejected):
            raise


def _series_row_locked(
    cohort: Cohort,
    series: _StagedSeries,
    report: ImportReport,
    actor: AbstractBaseUser | None,
    pinned_patient: Patient | None,
) -> Series:
    """The series' row (created with its patient and study if new), locked until the commit
    (a new row is unseen until then): no other import stores files of this series meanwhile;
    see _remove_orphan_files."""
    patient = pinned_patient or _patient_for(cohort, series, report, actor)
    study = _study_for(patient, series, report, actor)
    row, created = Series.objects.select_for_update().get_or_create(
        series_uid=series.series_uid, defaults=_series_fields(study, series, cohort.series_rules)
    )
    if row.study_id != study.pk:
        raise DicomRejected(
            UID_CONFLICT,
            "This series already belongs to another study; the files were not imported.",
        )
    if created:
        report.series_created += 1
    return row


def _write_instances(
    row: Series, series: _StagedSeries, staging: BinaryIO, written: list[str]
) -> list[Instance]:
    """Write the pseudonymized file of each staged instance not stored yet (its name appended
    to `written` as soon as it exists) and return their unsaved rows; duplicates are marked."""
    existing = set(
        Instance.objects.filter(
            sop_instance_uid__in=[i.sop_uid for i in series.instances]
        ).values_list("sop_instance_uid", flat=True)
    )
    new_rows = []
    for staged in series.instances:
        if staged.sop_uid in existing:
            staged.report.status = "duplicate"
            continue
        existing.add(staged.sop_uid)
        instance = Instance(
            series=row,
            sop_instance_uid=staged.sop_uid,
            instance_number=staged.instance_number,
            slice_location=staged.slice_location,
            position_along_normal=staged.position,
            file_size=staged.size,
            rows=staged.rows,
            columns=staged.columns,
            window_center=staged.window_center,
            window_width=staged.window_width,
        )
        instance.file.name = default_storage.save(
            instance_upload_path(instance, ""), ContentFile(_staged_bytes(staging, staged))
        )
        written.append(instance.file.name)
        new_rows.append(instance)
        staged.report.status = "imported"
    return new_rows


def _remove_orphan_files(row: Series) -> None:
    """Delete the files of the series' folder that no Instance row names.

    A series' files are written before its rows commit (a committed row must find its file),
    so an import killed in between (SIGKILL, a lost machine) leaves files no row names, at the
    very names the next import of the series writes; removed here, that import stores the
    series whole again. The caller holds the series row's lock: every other import storing
    this series has committed or died, so such a file is a leftover, never the file of an
    import still running."""
    folder = posixpath.dirname(instance_upload_path(Instance(series=row), ""))
    try:
        names = default_storage.listdir(folder)[1]
    except FileNotFoundError:
        return
    named = set(row.instances.values_list("file", flat=True))
    for name in names:
        if f"{folder}/{name}" not in named:
            default_storage.delete(f"{folder}/{name}")


def _series_fields(study: ImagingStudy, series: _StagedSeries, rules: list[dict]) -> dict:
    h = series.header
    original = series.original or {}
    detected = original.get("sequence") or classify_sequence(h)
    description = original.get("description", "")
    role, why = series_role(description, detected, rules)
    return {
        "study": study,
        "series_number": _integer(h, "SeriesNumber"),
        "sequence": role,
        "sequence_detected": detected,
        "role_source": why,
        "description": description,
        "echo_time": _number(h, "EchoTime"),
        "repetition_time": _number(h, "RepetitionTime"),
        "inversion_time": _number(h, "InversionTime"),
        "orientation": orientation_label(h.get("ImageOrientationPatient")),
        "pixel_spacing": _spacing(h),
        "frame_of_reference_uid": _stored_text(h, "FrameOfReferenceUID", 64),
    }


def _patient_for(
    cohort: Cohort, series: _StagedSeries, report: ImportReport, actor: AbstractBaseUser | None
) -> Patient:
    patient = Patient.objects.filter(cohort=cohort, source_key=series.source_patient_key).first()
    if patient is not None:
        return patient
    original = series.original or {}
    age = original.get("age")
    patient = patient_create(
        cohort=cohort,
        actor=actor,
        source_key=series.source_patient_key,
        sex=original.get("sex", "U"),
        age_at_mri=age if age is not None and age <= AGE_MAX else None,
    )
    report.patients_created += 1
    report.new_patients.append(patient.pseudonym)
    return patient


def _study_for(
    patient: Patient, series: _StagedSeries, report: ImportReport, actor: AbstractBaseUser | None
) -> ImagingStudy:
    study = (
        ImagingStudy.objects.filter(study_uid=series.study_uid).select_related("patient").first()
    )
    if study is not None:
        if study.patient.cohort_id != patient.cohort_id:
            raise DicomRejected(STUDY_IN_OTHER_COHORT, STUDY_IN_OTHER_COHORT_MESSAGE)
        if study.patient_id != patient.pk:
            raise DicomRejected(
                UID_CONFLICT,
                "This study already belongs to another patient; the files were not imported.",
            )
        return study
    h = series.header
    study = study_create(
        patient=patient,
        actor=actor,
        study_uid=series.study_uid,
        source="dicom import",
        study_date_shifted=_shifted_date(str(h.get("StudyDate", "") or "")),
        description=_stored_text(h, "StudyDescription", 200),
        field_strength=_number(h, "MagneticFieldStrength"),
        scanner_model=_stored_text(h, "ManufacturerModelName", 120),
    )
    report.studies_created += 1
    return study
