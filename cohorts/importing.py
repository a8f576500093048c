"""DICOM import: every path (upload, folder/zip, C-STORE listener, DICOMweb pull) ends here.

One file at a time: read and check it, de-identify it in memory, keep only its metadata and
its pseudonymized bytes in a staging folder; then, series by series, store the files and write
Patient / ImagingStudy / Series / Instance rows in one transaction. A series with any rejected
file is stored not at all (all-or-nothing per series); re-importing the same files adds nothing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from .audit import audit_record
from .dicom.classify import classify_sequence, orientation_label, slice_position
from .dicom.deid import deidentify, dicom_bytes, patient_date_offset
from .dicom.validate import DicomRejected, read_mr_image
from .models import Cohort, ImagingStudy, Instance, Patient, Series, instance_upload_path
from .services import next_pseudonym, source_key_for

SERIES_REJECTED = "Not stored: another file of this series was rejected (a series is stored whole)."


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
    path: Path
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


def _original_attributes(ds: Dataset) -> dict:
    """The few original values the database keeps: the sequence class (from TR/TE/TI), the
    series description (a protocol name such as "STIR tra"), sex and age in years."""
    age = str(ds.get("PatientAge", "") or "")
    sex = str(ds.get("PatientSex", "") or "").upper()
    return {
        "sequence": classify_sequence(ds),
        "description": str(ds.get("SeriesDescription", "") or "")[:200],
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
    staging = Path(tempfile.mkdtemp(prefix="iim-import-"))
    try:
        for name, payload in files:
            file_report = FileReport(name=name, status="rejected")
            report.files.append(file_report)
            try:
                ds = read_mr_image(payload, filename=name)
                source_id = str(ds.get("PatientID", "") or "").strip()
                if not source_id and patient is None:
                    raise DicomRejected(
                        "no_patient_id",
                        "The file has no Patient ID, so it cannot be assigned to a patient.",
                        filename=name,
                    )
                if "StudyInstanceUID" not in ds or "SeriesInstanceUID" not in ds:
                    raise DicomRejected(
                        "no_uids", "The file lacks a Study or Series Instance UID.", filename=name
                    )
            except DicomRejected as exc:
                file_report.reason, file_report.reason_code = exc.message, exc.reason_code
                _reject_series_of(staged, payload, name)
                if progress:
                    progress(file_report)
                continue
            source_key = patient.source_key if patient is not None else source_key_for(source_id)
            offset = patient_date_offset(source_key or str(patient.pk), uid_secret)
            source_series = str(ds.SeriesInstanceUID)
            # Classification needs TR/TE/TI before de-identification touches anything.
            series = staged.get(source_series)
            deidentify(ds, pseudonym="PSEUDONYM", date_offset_days=offset, uid_secret=uid_secret)
            if series is None:
                header = Dataset()
                for element in ds:
                    if element.tag != 0x7FE00010:  # keep the attributes, not the pixels
                        header.add(element)
                series = staged[source_series] = _StagedSeries(
                    source_patient_key=source_key,
                    study_uid=str(ds.StudyInstanceUID),
                    series_uid=str(ds.SeriesInstanceUID),
                    header=header,
                )
            file_report.series_uid = series.series_uid
            data = dicom_bytes(ds)
            path = staging / f"{len(report.files)}.dcm"
            path.write_bytes(data)
            series.instances.append(
                _StagedInstance(
                    report=file_report,
                    sop_uid=str(ds.SOPInstanceUID),
                    instance_number=int(ds.get("InstanceNumber") or 0) or None,
                    slice_location=_number(ds, "SliceLocation"),
                    position=slice_position(ds),
                    rows=int(ds.get("Rows", 0)),
                    columns=int(ds.get("Columns", 0)),
                    window_center=_number(ds, "WindowCenter"),
                    window_width=_number(ds, "WindowWidth"),
                    path=path,
                    size=len(data),
                )
            )
            file_report.status = "staged"
            del ds
        for series in staged.values():
            _store_series(cohort, series, report, actor=actor, pinned_patient=patient)
            if progress:
                for instance in series.instances:
                    progress(instance.report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _reject_series_of(staged: dict[str, _StagedSeries], payload: bytes, name: str) -> None:
    """A rejected file that still names its series takes the whole series down with it."""
    try:
        import pydicom

        ds = pydicom.dcmread(
            pydicom.filebase.DicomBytesIO(payload),
            stop_before_pixels=True,
            force=True,
            specific_tags=["SeriesInstanceUID"],
        )
        uid = str(ds.get("SeriesInstanceUID", "") or "")
    except Exception:  # noqa: BLE001 - an unreadable file names no series
        return
    if uid:
        staged.setdefault(uid, _StagedSeries("", "", "", Dataset())).rejected = True
    _ = name


def _store_series(
    cohort: Cohort,
    series: _StagedSeries,
    report: ImportReport,
    *,
    actor: AbstractBaseUser | None,
    pinned_patient: Patient | None,
) -> None:
    if series.rejected:
        for instance in series.instances:
            instance.report.status, instance.report.reason = "skipped", SERIES_REJECTED
        return
    written: list[str] = []
    try:
        with transaction.atomic():
            patient = pinned_patient or _patient_for(cohort, series, report, actor)
            study = _study_for(patient, series, report, actor)
            row, created = Series.objects.get_or_create(
                series_uid=series.series_uid, defaults=_series_fields(study, series)
            )
            if row.study_id != study.pk:
                raise DicomRejected(
                    "uid_conflict",
                    "This series already belongs to another study; the files were not imported.",
                )
            if created:
                report.series_created += 1
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
                with staged.path.open("rb") as handle:
                    instance.file.name = default_storage.save(
                        instance_upload_path(instance, ""), File(handle)
                    )
                written.append(instance.file.name)
                new_rows.append(instance)
                staged.report.status = "imported"
            Instance.objects.bulk_create(new_rows, batch_size=1000)
            if new_rows:
                row.slice_count = row.instances.count()
                row.save(update_fields=["slice_count"])
                report.instances_created += len(new_rows)
                audit_record(
                    actor=actor,
                    action="dicom.import",
                    target=row,
                    cohort=cohort,
                    new={"instances": len(new_rows), "sequence": row.sequence},
                )
    except Exception as exc:
        for name in written:  # the transaction rolled back: no file may outlive its row
            default_storage.delete(name)
        message = exc.message if isinstance(exc, DicomRejected) else f"Not stored: {exc}"
        for staged in series.instances:
            staged.report.status, staged.report.reason = "rejected", message
        if not isinstance(exc, DicomRejected):
            raise


def _series_fields(study: ImagingStudy, series: _StagedSeries) -> dict:
    h = series.header
    original = series.original or {}
    sequence = original.get("sequence") or classify_sequence(h)
    spacing = h.get("PixelSpacing")
    return {
        "study": study,
        "series_number": int(h.get("SeriesNumber") or 0) or None,
        "sequence": sequence,
        "sequence_detected": sequence,
        "description": original.get("description", ""),
        "echo_time": _number(h, "EchoTime"),
        "repetition_time": _number(h, "RepetitionTime"),
        "inversion_time": _number(h, "InversionTime"),
        "orientation": orientation_label(h.get("ImageOrientationPatient")),
        "pixel_spacing": "\\".join(str(float(v)) for v in spacing) if spacing else "",
        "frame_of_reference_uid": str(h.get("FrameOfReferenceUID", "") or ""),
    }


def _patient_for(
    cohort: Cohort, series: _StagedSeries, report: ImportReport, actor: AbstractBaseUser | None
) -> Patient:
    patient = Patient.objects.filter(cohort=cohort, source_key=series.source_patient_key).first()
    if patient is not None:
        return patient
    h = series.header
    sex = str(h.get("PatientSex", "") or "").upper()
    age = str(h.get("PatientAge", "") or "")
    patient = Patient.objects.create(
        cohort=cohort,
        pseudonym=next_pseudonym(cohort),
        source_key=series.source_patient_key,
        sex=sex if sex in ("F", "M") else "U",
        age_at_mri=int(age[:3]) if age[:3].isdigit() and age.endswith("Y") else None,
    )
    report.patients_created += 1
    audit_record(
        actor=actor,
        action="patient.create",
        target=patient,
        cohort=cohort,
        new={"pseudonym": patient.pseudonym, "from": "dicom import"},
    )
    return patient


def _study_for(
    patient: Patient, series: _StagedSeries, report: ImportReport, actor: AbstractBaseUser | None
) -> ImagingStudy:
    study = ImagingStudy.objects.filter(study_uid=series.study_uid).first()
    if study is not None:
        if study.patient_id != patient.pk:
            raise DicomRejected(
                "uid_conflict",
                "This study already belongs to another patient; the files were not imported.",
            )
        return study
    h = series.header
    study = ImagingStudy.objects.create(
        patient=patient,
        study_uid=series.study_uid,
        study_date_shifted=_shifted_date(str(h.get("StudyDate", "") or "")),
        description=str(h.get("StudyDescription", "") or "")[:200],
        field_strength=_number(h, "MagneticFieldStrength"),
        scanner_model=str(h.get("ManufacturerModelName", "") or "")[:120],
    )
    _renumber_timepoints(patient)
    report.studies_created += 1
    audit_record(
        actor=actor,
        action="study.create",
        target=study,
        cohort=patient.cohort,
        new={"patient": patient.pseudonym, "study_uid": study.study_uid},
    )
    study.refresh_from_db()
    return study


def _renumber_timepoints(patient: Patient) -> None:
    """Timepoints follow the (shifted) study dates: a second study is a later timepoint."""
    studies = list(patient.studies.order_by("study_date_shifted", "pk"))
    first = next((s.study_date_shifted for s in studies if s.study_date_shifted), None)
    for number, study in enumerate(studies):
        days = (study.study_date_shifted - first).days if first and study.study_date_shifted else 0
        if (study.timepoint, study.days_from_baseline) != (number, days):
            study.timepoint, study.days_from_baseline = number, days
            study.save(update_fields=["timepoint", "days_from_baseline"])
