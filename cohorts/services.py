"""Writes of the cohorts domain: cohorts, patients, clinical assessments.

Each function is a transaction that writes its audit row; anything that changes what analyses
see marks the cohort's results stale through analytics' one door.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.forms.models import model_to_dict

from .audit import audit_record
from .dicom.deid import source_patient_key
from .models import ClinicalAssessment, Cohort, Patient, Site

PATIENT_FIELDS = [
    "sex",
    "age_at_mri",
    "subtype",
    "classification_criteria",
    "antibodies",
    "seronegative",
    "biopsy_done",
    "emg_myopathic",
    "site",
]
ASSESSMENT_FIELDS = [
    "days_from_baseline",
    "disease_duration_months",
    "ck",
    "ck_uln",
    "mmt8_total",
    "mmt8_groups",
    "treatment_naive",
    "immunosuppression",
]


def source_key_for(source_patient_id: str) -> str:
    """HMAC-SHA256 of a source patient id with the secret pepper: re-imports find the same
    patient while the id itself is never stored."""
    return source_patient_key(source_patient_id, settings.PSEUDONYM_PEPPER.encode())


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = float(value)
        elif hasattr(value, "pk"):
            value = value.pk
        out[key] = value
    return out


def _mark_stale(cohort: Cohort) -> None:
    from analytics.services import results_mark_stale  # analytics reads cohorts, not reverse

    results_mark_stale(cohort_id=cohort.pk)


@transaction.atomic
def cohort_create(
    *,
    slug: str,
    title: str,
    actor: AbstractBaseUser | None,
    description: str = "",
    sites: list[Site] | None = None,
    is_synthetic: bool = False,
) -> Cohort:
    cohort = Cohort(slug=slug, title=title, description=description, is_synthetic=is_synthetic)
    cohort.full_clean()
    cohort.save()
    if sites:
        cohort.sites.set(sites)
    audit_record(
        actor=actor,
        action="cohort.create",
        target=cohort,
        cohort=cohort,
        new={"slug": slug, "title": title},
    )
    return cohort


def next_pseudonym(cohort: Cohort, prefix: str = "IIM") -> str:
    taken = set(cohort.patients.values_list("pseudonym", flat=True))
    number = len(taken) + 1
    while f"{prefix}-{number:04d}" in taken:
        number += 1
    return f"{prefix}-{number:04d}"


@transaction.atomic
def patient_create(
    *,
    cohort: Cohort,
    actor: AbstractBaseUser | None,
    pseudonym: str | None = None,
    source_patient_id: str | None = None,
    is_synthetic: bool = False,
    **fields: Any,
) -> Patient:
    """A new pseudonymized patient; the source id (if any) is kept only as its HMAC."""
    patient = Patient(
        cohort=cohort,
        pseudonym=pseudonym or next_pseudonym(cohort),
        source_key=source_key_for(source_patient_id) if source_patient_id else "",
        is_synthetic=is_synthetic,
        **fields,
    )
    patient.full_clean()
    patient.save()
    audit_record(
        actor=actor,
        action="patient.create",
        target=patient,
        cohort=cohort,
        new=_jsonable(model_to_dict(patient, fields=PATIENT_FIELDS)),
    )
    _mark_stale(cohort)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, actor: AbstractBaseUser | None, **fields: Any) -> Patient:
    """Change a patient's clinical attributes; the audit row holds only the fields that changed."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    old = _jsonable(model_to_dict(patient, fields=PATIENT_FIELDS))
    for name, value in fields.items():
        if name not in PATIENT_FIELDS:
            raise ValueError(f"{name} is not a patient field that can be changed.")
        setattr(patient, name, value)
    patient.full_clean()
    new = _jsonable(model_to_dict(patient, fields=PATIENT_FIELDS))
    changed = {k for k in new if new[k] != old[k]}
    if changed:
        patient.save(update_fields=sorted(changed))
        audit_record(
            actor=actor,
            action="patient.update",
            target=patient,
            cohort=patient.cohort,
            old={k: old[k] for k in changed},
            new={k: new[k] for k in changed},
        )
        _mark_stale(patient.cohort)
    return patient


@transaction.atomic
def assessment_save(
    *, patient: Patient, timepoint: int, actor: AbstractBaseUser | None, **fields: Any
) -> ClinicalAssessment:
    """Create or update the clinical assessment of a patient at a timepoint."""
    assessment = (
        ClinicalAssessment.objects.select_for_update()
        .filter(patient=patient, timepoint=timepoint)
        .first()
    )
    created = assessment is None
    if created:
        assessment = ClinicalAssessment(patient=patient, timepoint=timepoint)
    old = {} if created else _jsonable(model_to_dict(assessment, fields=ASSESSMENT_FIELDS))
    for name, value in fields.items():
        if name not in ASSESSMENT_FIELDS:
            raise ValueError(f"{name} is not a clinical assessment field.")
        setattr(assessment, name, value)
    assessment.full_clean()
    new = _jsonable(model_to_dict(assessment, fields=ASSESSMENT_FIELDS))
    changed = {k for k in new if new.get(k) != old.get(k)}
    if created or changed:
        assessment.save()
        audit_record(
            actor=actor,
            action="assessment.create" if created else "assessment.update",
            target=assessment,
            cohort=patient.cohort,
            old={k: old.get(k) for k in changed} if not created else None,
            new={k: new[k] for k in changed},
        )
        _mark_stale(patient.cohort)
    return assessment
