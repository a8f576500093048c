"""Synthetic MR studies for the demo cohort, brought in through the real import pipeline."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.dicom.synthetic import synthetic_study
from cohorts.imaging.ingest import dicom_import
from cohorts.models import Cohort, ImagingStudy, Patient


def import_demo_study(
    *, cohort: Cohort, patient: Patient, spec, actor: AbstractBaseUser | None
) -> ImagingStudy:  # spec is scoring.demo.DemoPatient
    """Render STIR and T1 series whose muscles show the patient's seeded grades, and import them.

    The files carry generated identifying values (name, id, birth date, institution) so that
    de-identification is exercised exactly as for real studies.
    """
    number = int(spec.pseudonym.rsplit("-", 1)[-1])
    datasets = synthetic_study(
        patient_id=spec.source_id,
        patient_name=f"Synthetic^Patient{number:04d}",
        birth_date=f"{2024 - spec.age}0{1 + number % 9}1{number % 9}",
        grades=spec.grades,
        seed=number,
    )
    files = [(f"{spec.pseudonym}-{i:03d}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)]
    report = dicom_import(cohort=cohort, files=files, actor=actor, patient=patient)
    if report.count("imported") + report.count("duplicate") != len(files):
        problems = {f.reason for f in report.files if f.status not in ("imported", "duplicate")}
        raise ImproperlyConfigured(f"Demo images could not be imported: {problems}")
    return patient.studies.order_by("timepoint").first()
