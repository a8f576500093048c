"""dicom_import itself, the one door of every import path, with real and generated files."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from django.conf import settings

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.ingest import dicom_import
from cohorts.models import AuditEvent, ImagingStudy, Instance, Patient, Series
from tests import factories
from tests.dicom_import.conftest import (
    ENHANCED_MR_FILES,
    REAL_MR_FILES,
    assert_nothing_identifying_stored,
    assert_nothing_written,
    assert_pixels_unchanged,
    parse,
    real_file,
    real_files,
    synthetic_files,
)

pytestmark = pytest.mark.django_db


def statuses(report) -> dict[str, str]:
    return {f.name: f.status for f in report.files}


def test_real_mr_files_are_stored_without_identifying_values_and_with_their_pixels(cohort):
    files = real_files() + synthetic_files()
    report = dicom_import(cohort=cohort, files=files, actor=None)
    got = statuses(report)
    # MR_small's other encodings share its SOP Instance UID: the first one in is kept
    assert got["MR_small.dcm"] == got["MR2_UNCR.dcm"] == got["MR2_J2KI.dcm"] == "imported"
    assert {got[n] for n in REAL_MR_FILES if n.startswith("MR_small_")} == {"duplicate"}
    assert report.count("rejected") == 0
    assert Patient.objects.filter(cohort=cohort).count() == 4  # 4MR1, 5MR2, Siemens, synthetic
    assert_nothing_identifying_stored(files)
    imported = [data for name, data in files if got[name] == "imported"]
    for data in imported:
        assert_pixels_unchanged(data)


@pytest.mark.parametrize("name", ENHANCED_MR_FILES)
def test_enhanced_mr_multiframe_is_stored_on_a_pinned_patient(cohort, name):
    patient = factories.PatientFactory(cohort=cohort, source_key="k" * 64)
    files = real_files([name])
    report = dicom_import(cohort=cohort, files=files, actor=None, patient=patient)
    assert statuses(report) == {name: "imported"}
    assert_pixels_unchanged(files[0][1])
    assert_nothing_identifying_stored(files)
    assert ImagingStudy.objects.get().patient == patient


def test_a_file_without_patient_id_is_rejected_when_no_patient_is_pinned(cohort):
    report = dicom_import(cohort=cohort, files=real_files(["emri_small.dcm"]), actor=None)
    (file_report,) = report.files
    assert file_report.status == "rejected" and file_report.reason_code == "no_patient_id"
    assert "Patient ID" in file_report.reason
    assert_nothing_written()


def test_sex_and_age_come_from_the_original_and_no_date_is_kept(cohort):
    dicom_import(cohort=cohort, files=synthetic_files(), actor=None)
    patient = Patient.objects.get(cohort=cohort)
    original = parse(synthetic_files()[0][1])
    assert patient.sex == original.PatientSex
    assert patient.age_at_mri == int(original.PatientAge[:3])
    assert patient.pseudonym == "IIM-0001" and len(patient.source_key) == 64


def test_sequences_are_classified_from_the_tags(cohort):
    dicom_import(cohort=cohort, files=synthetic_files(slices=3), actor=None)
    assert sorted(Series.objects.values_list("sequence", "sequence_detected", "slice_count")) == [
        ("STIR", "STIR", 3),
        ("T1", "T1", 3),
    ]


def test_reimporting_the_same_files_adds_nothing(cohort):
    files = real_files(["MR_small.dcm", "MR2_UNCR.dcm"]) + synthetic_files()
    first = dicom_import(cohort=cohort, files=files, actor=None)
    counts = (Patient.objects.count(), ImagingStudy.objects.count(), Series.objects.count())
    instances, events = Instance.objects.count(), AuditEvent.objects.count()
    second = dicom_import(cohort=cohort, files=files, actor=None)
    assert first.count("imported") == len(files)
    assert second.count("duplicate") == len(files) and second.instances_created == 0
    assert (Patient.objects.count(), ImagingStudy.objects.count(), Series.objects.count()) == counts
    assert Instance.objects.count() == instances and AuditEvent.objects.count() == events


def test_a_second_study_of_a_known_patient_is_a_later_timepoint(cohort):
    dicom_import(cohort=cohort, files=synthetic_files(seed=1, study_date="20200310"), actor=None)
    later = synthetic_files(seed=2, study_date="20200618")  # same patient id, new study
    report = dicom_import(cohort=cohort, files=later, actor=None)
    assert report.patients_created == 0 and report.studies_created == 1
    patient = Patient.objects.get(cohort=cohort)
    baseline, follow_up = patient.studies.order_by("timepoint")
    assert (baseline.timepoint, baseline.days_from_baseline) == (0, 0)
    assert (follow_up.timepoint, follow_up.days_from_baseline) == (1, 100)
    assert follow_up.study_date_shifted.isoformat() != "2020-06-18"  # shifted, not the original


def test_the_same_patient_in_two_cohorts_gets_two_pseudonyms(cohort):
    other = factories.CohortFactory()
    dicom_import(cohort=cohort, files=synthetic_files(seed=1), actor=None)
    report = dicom_import(cohort=other, files=synthetic_files(seed=3), actor=None)
    assert report.patients_created == 1
    assert Patient.objects.filter(cohort=other).count() == 1


BAD_INPUTS = {
    "notes.txt": ("not_dicom", b"Patient,Grade\nIIM-0001,2\n"),
    "MR_truncated.dcm": ("truncated", None),
    "CT_small.dcm": ("not_mr", None),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_files_get_a_clear_reason_and_leave_nothing(cohort, name):
    code, payload = BAD_INPUTS[name]
    data = payload if payload is not None else real_file(name).read_bytes()
    report = dicom_import(cohort=cohort, files=[(name, data)], actor=None)
    (file_report,) = report.files
    assert (file_report.status, file_report.reason_code) == ("rejected", code)
    assert file_report.reason and "Traceback" not in file_report.reason
    assert_nothing_written()


def test_an_mr_file_without_pixel_data_is_rejected(cohort):
    ds = parse(real_file("MR_small.dcm").read_bytes())
    del ds.PixelData
    report = dicom_import(cohort=cohort, files=[("header.dcm", dicom_bytes(ds))], actor=None)
    assert report.files[0].reason_code == "no_pixel_data"
    assert "no pixel data" in report.files[0].reason
    assert_nothing_written()


def test_one_bad_file_fails_alone_and_its_series_neighbours_are_stored(cohort):
    files = synthetic_files(slices=4)
    stir = [f for f in files if f[0].startswith("003/")]
    t1 = [f for f in files if f[0].startswith("004/")]
    broken = parse(stir[2][1])
    broken.PixelData = broken.PixelData[:-100]  # pixel data shorter than the image needs
    stir[2] = (stir[2][0], dicom_bytes(broken))
    report = dicom_import(cohort=cohort, files=stir + t1, actor=None)
    got = statuses(report)
    assert got[stir[2][0]] == "rejected"
    assert {got[name] for name, _ in stir if name != stir[2][0]} == {"imported"}
    assert {got[name] for name, _ in t1} == {"imported"}
    stored = Series.objects.get(sequence="STIR")
    assert stored.instances.count() == len(stir) - 1
    assert len(list(Path(settings.MEDIA_ROOT).rglob("*.dcm"))) == len(stir) - 1 + len(t1)


def test_a_series_split_over_two_patients_is_refused(cohort):
    files = synthetic_files(slices=2)
    impostor = parse(files[1][1])
    impostor.PatientID = "SOMEONE-ELSE"
    files[1] = (files[1][0], dicom_bytes(impostor))
    report = dicom_import(cohort=cohort, files=files, actor=None)
    assert report.files[1].reason_code == "uid_conflict"
    assert not Series.objects.filter(sequence="STIR").exists()


def test_each_stored_file_is_marked_deidentified(cohort):
    dicom_import(cohort=cohort, files=real_files(["MR-SIEMENS-DICOM-WithOverlays.dcm"]), actor=None)
    instance = Instance.objects.get()
    with instance.file.open("rb") as handle:
        ds = pydicom.dcmread(handle)
    assert ds.PatientIdentityRemoved == "YES"
    assert "Sssssss" not in str(ds.PatientName)
    assert not [e for e in ds if e.tag.is_private]
    assert not [e for e in ds if 0x6000 <= e.tag.group <= 0x60FF]


def test_every_import_path_module_goes_through_dicom_import() -> None:
    """The upload task, the CLI and the DICOMweb pull call dicom_import; the listener runs
    its jobs as the upload's are run."""
    import inspect

    from cohorts.imaging import dicomweb, listener
    from cohorts.imaging import jobs as import_jobs
    from cohorts.management.commands import import_dicom

    for module in (import_jobs, import_dicom, dicomweb):
        assert "dicom_import(" in inspect.getsource(module), module.__name__
    assert "import_job_run(" in inspect.getsource(listener)
