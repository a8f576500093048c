"""Synthetic MR studies for the demo cohort, brought in through the real import pipeline."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured

from cohorts.imaging.dicom.synthetic import study_files
from cohorts.imaging.ingest import dicom_import
from cohorts.models import Cohort, ImagingStudy, Patient

# Whole-body studies as scanners send them: 5 stations (shoulders and chest, chest and
# abdomen with the forearms, pelvis and upper thighs, thighs, lower legs) per sequence,
# overlapping by 4 cm, 24 slices a station (13 mm apart, 6 mm thick): 240 images of
# 256 x 256 per study, about 31 MB.
DEMO_STATIONS = 5
DEMO_SLICES_PER_STATION = 24
DEMO_IMAGE_SIZE = 256


def demo_study(
    spec,  # scoring.demo.DemoPatient
    *,
    enhanced: bool = False,
    stations: int = DEMO_STATIONS,
    slices_per_station: int = DEMO_SLICES_PER_STATION,
    size: int = DEMO_IMAGE_SIZE,
) -> dict:
    """synthetic_study's arguments for a demo patient: its seeded grades, generated
    identifying values (so de-identification is exercised exactly as for real studies)."""
    number = int(spec.pseudonym.rsplit("-", 1)[-1])
    return {
        "patient_id": spec.source_id,
        "patient_name": f"Synthetic^Patient{number:04d}",
        "birth_date": f"{2024 - spec.age}0{1 + number % 9}1{number % 9}",
        "grades": dict(spec.grades),
        "seed": number,
        "stations": stations,
        "slices": slices_per_station,
        "size": size,
        "enhanced": enhanced,
    }


def import_demo_study(
    *,
    cohort: Cohort,
    patient: Patient,
    spec,  # scoring.demo.DemoPatient
    actor: AbstractBaseUser | None,
    enhanced: bool = False,
    stations: int = DEMO_STATIONS,
    slices_per_station: int = DEMO_SLICES_PER_STATION,
    size: int = DEMO_IMAGE_SIZE,
) -> ImagingStudy:
    """Render a whole-body STIR and T1 study whose muscles show the patient's seeded grades,
    and import it. With `enhanced`, every station series is sent as one Enhanced MR object."""
    study = demo_study(
        spec,
        enhanced=enhanced,
        stations=stations,
        slices_per_station=slices_per_station,
        size=size,
    )
    files = study_files(spec.pseudonym, **study)
    report = dicom_import(cohort=cohort, files=files, actor=actor, patient=patient)
    if report.count("imported") + report.count("duplicate") != len(files):
        problems = {f.reason for f in report.files if f.status not in ("imported", "duplicate")}
        raise ImproperlyConfigured(f"Demo images could not be imported: {problems}")
    return patient.studies.order_by("timepoint").first()
