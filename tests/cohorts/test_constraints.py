"""The database refuses impossible values even when a caller skips validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cohorts.models import ClinicalAssessment, Patient
from cohorts.services import assessment_save
from scoring.models import Grade, Muscle, Read, ScoringProtocol
from tests import factories


def _integrity_error_mentions(callable_, constraint: str) -> None:
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        callable_()
    # Postgres names a CHECK constraint; a UNIQUE one shows its name or its columns.
    assert constraint in str(excinfo.value) or "UNIQUE" in str(excinfo.value).upper()


@pytest.mark.django_db
def test_mmt8_above_150_is_rejected_by_the_database():
    patient = factories.PatientFactory()
    _integrity_error_mentions(
        lambda: ClinicalAssessment.objects.create(patient=patient, mmt8_total=151),
        "mmt8_total_within_0_150",
    )


@pytest.mark.django_db
def test_negative_ck_is_rejected_by_the_database():
    patient = factories.PatientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicalAssessment.objects.create(patient=patient, ck=-5)


@pytest.mark.django_db
def test_service_validation_names_the_field_and_saves_nothing():
    patient = factories.PatientFactory()
    with pytest.raises(ValidationError) as excinfo:
        assessment_save(patient=patient, timepoint=0, actor=None, mmt8_total=180)
    assert "mmt8_total" in excinfo.value.message_dict
    assert not ClinicalAssessment.objects.filter(patient=patient).exists()


@pytest.mark.django_db
def test_pseudonym_is_unique_within_a_cohort_but_not_across_cohorts():
    first = factories.PatientFactory(pseudonym="IIM-0042")
    factories.PatientFactory(pseudonym="IIM-0042")  # another cohort: allowed
    _integrity_error_mentions(
        lambda: Patient.objects.create(cohort=first.cohort, pseudonym="IIM-0042"),
        "unique_pseudonym_per_cohort",
    )


def _read() -> Read:
    study = factories.StudyFactory()
    reader = factories.user_with_role("radiologist", username="reader-c")
    return Read.objects.create(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="whole-body-iim"),
        reader=reader,
        blind_label="R-TEST",
    )


@pytest.mark.django_db
def test_grade_outside_every_scale_is_rejected_by_the_database():
    # 0–5 and NA are grades on some scale; the protocol's own scale is the services' check.
    read = _read()
    muscle = Muscle.objects.get(slug="deltoid")
    _integrity_error_mentions(
        lambda: Grade.objects.create(
            read=read, muscle=muscle, side="L", sequence="STIR", value="6"
        ),
        "grade_is_0_to_5_or_na",
    )


@pytest.mark.django_db
def test_one_grade_per_read_muscle_side_and_sequence():
    read = _read()
    muscle = Muscle.objects.get(slug="deltoid")
    Grade.objects.create(read=read, muscle=muscle, side="L", sequence="STIR", value="1")
    Grade.objects.create(read=read, muscle=muscle, side="L", sequence="T1", value="NA")
    _integrity_error_mentions(
        lambda: Grade.objects.create(
            read=read, muscle=muscle, side="L", sequence="STIR", value="2"
        ),
        "one_grade_per_cell",
    )


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted():
    from cohorts.audit import audit_record
    from cohorts.models import AuditEvent

    patient = factories.PatientFactory()
    event = audit_record(actor=None, action="patient.create", target=patient, new={"x": 1})
    event.reason = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(reason="tampered")
    assert AuditEvent.objects.get(pk=event.pk).reason == ""
