"""A coordinator exports everything stored about a patient, and erases it on request
(GDPR Art. 15 and 17): images, clinical data, reads and grades go, the audit trail keeps who
and when without the values, and the erasure itself is audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from analytics.beyond import cohort_beyond_recompute
from analytics.models import AnalysisResult
from analytics.recompute import cohort_analyses_recompute
from analytics.result_rows import stored_result_value
from cohorts.imaging.ingest import dicom_import
from cohorts.models import AuditEvent, ClinicalAssessment, ImagingStudy, Instance, Patient, Series
from scoring.erasure import ERASURE_CONFIRMATION_MISMATCH, ERASURE_REASON_REQUIRED
from scoring.models import Grade, Read, ScoringProtocol
from scoring.services import read_assign, read_record_complete
from tests import factories
from tests.dicom_import.conftest import synthetic_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def imaged_cohort(cohort, coordinator, radiologist):
    """Two patients imported from generated DICOM, each with a submitted read and clinical
    data; the cohort's analyses stored."""
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    for number, source_id in enumerate(("SRC-A", "SRC-B"), start=1):
        dicom_import(
            cohort=cohort, files=synthetic_files(source_id, seed=number, slices=2), actor=None
        )
    for patient in Patient.objects.filter(cohort=cohort).order_by("pseudonym"):
        factories.AssessmentFactory(patient=patient, mmt8_total=120, ck=900)
        read = read_assign(
            study=patient.studies.get(), protocol=protocol, reader=radiologist, actor=coordinator
        )
        cells = {
            (m.slug, side, sequence): "1"
            for m in protocol.muscles.all()
            for side in "LR"
            for sequence in ("STIR", "T1")
        }
        read_record_complete(read=read, cells=cells, actor=radiologist, reason="", submit=True)
    return cohort


def _stored_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()}


def _erase(client, cohort, pseudonym: str, **form) -> object:
    url = reverse("scoring:patient-erase", args=[cohort.slug, pseudonym])
    return client.post(url, data=form)


def test_the_record_holds_clinical_values_grades_and_audit_but_no_source_key(
    client, coordinator, imaged_cohort
):
    patient = Patient.objects.filter(cohort=imaged_cohort).order_by("pseudonym").first()
    client.force_login(coordinator)
    response = client.get(
        reverse("scoring:patient-record", args=[imaged_cohort.slug, patient.pseudonym])
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    record = json.loads(response.content)
    assert record["patient"]["pseudonym"] == patient.pseudonym
    assert record["clinical_assessments"][0]["ck"] == 900
    assert len(record["imaging_studies"][0]["series"]) == 2
    (read,) = record["reads"]
    assert len(read["grades"]) == 13 * 2 * 2 and {g["grade"] for g in read["grades"]} == {"1"}
    assert any(event["action"] == "grade.set" for event in record["audit_events"])
    assert patient.source_key not in response.content.decode()
    assert "SRC-A" not in response.content.decode()


def test_erasure_removes_the_patient_everywhere_and_keeps_the_other(
    client, coordinator, imaged_cohort, django_capture_on_commit_callbacks
):
    erased, kept = Patient.objects.filter(cohort=imaged_cohort).order_by("pseudonym")
    erased_files = {
        Path(settings.MEDIA_ROOT) / name
        for name in Instance.objects.filter(series__study__patient=erased).values_list(
            "file", flat=True
        )
    }
    kept_files = _stored_files() - erased_files
    grade_ids = [str(pk) for pk in Grade.objects.filter(read__study__patient=erased).values_list(
        "pk", flat=True
    )]  # fmt: skip
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = _erase(
            client,
            imaged_cohort,
            erased.pseudonym,
            reason="Request 2026-117 (withdrawal of consent)",
            confirmation=erased.pseudonym,
        )
    assert response.status_code == 302
    assert not Patient.objects.filter(pk=erased.pk).exists()
    assert not ImagingStudy.objects.filter(patient_id=erased.pk).exists()
    assert not ClinicalAssessment.objects.filter(patient_id=erased.pk).exists()
    assert not Read.objects.filter(study__patient_id=erased.pk).exists()
    assert not Grade.objects.filter(pk__in=grade_ids).exists()
    assert erased_files and not any(path.exists() for path in erased_files)
    assert _stored_files() == kept_files
    # The other patient is untouched.
    assert Series.objects.filter(study__patient=kept).count() == 2
    assert Grade.objects.filter(read__study__patient=kept).count() == 13 * 2 * 2
    # The trail keeps who and when about the erased grades, not their values.
    grade_events = AuditEvent.objects.filter(target_type="scoring.grade", target_id__in=grade_ids)
    assert grade_events.count() == len(grade_ids)
    assert set(grade_events.values_list("old", "new")) == {(None, None)}
    erasure = AuditEvent.objects.get(action="patient.erase")
    assert erasure.actor == coordinator
    assert erasure.reason == "Request 2026-117 (withdrawal of consent)"
    assert erasure.new["grades"] == len(grade_ids) and erasure.new["files"] == len(erased_files)
    # The stored analyses no longer hold the erased patient.
    patient_rows = stored_result_value(
        AnalysisResult.objects.get(cohort=imaged_cohort, analysis="patient_scores")
    )["unified"]
    assert {row["pseudonym"] for row in patient_rows} == {kept.pseudonym}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reason": "", "confirmation": "{pseudonym}"}, ERASURE_REASON_REQUIRED),
        ({"reason": "Request 7", "confirmation": "IIM-9999"}, ERASURE_CONFIRMATION_MISMATCH),
    ],
)
def test_erasure_without_a_reason_or_the_typed_pseudonym_erases_nothing(
    client, coordinator, imaged_cohort, form, message
):
    patient = Patient.objects.filter(cohort=imaged_cohort).first()
    files, events = _stored_files(), AuditEvent.objects.count()
    client.force_login(coordinator)
    form = {k: v.format(pseudonym=patient.pseudonym) for k, v in form.items()}
    response = _erase(client, imaged_cohort, patient.pseudonym, **form)
    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert _stored_files() == files and AuditEvent.objects.count() == events


@pytest.mark.parametrize("role", ["clinician", "statistician", "radiologist"])
def test_only_coordinators_may_export_or_erase_a_patient(client, imaged_cohort, role, request):
    patient = Patient.objects.filter(cohort=imaged_cohort).first()
    client.force_login(request.getfixturevalue(role))
    record = reverse("scoring:patient-record", args=[imaged_cohort.slug, patient.pseudonym])
    assert client.get(record).status_code in (403, 404)
    response = _erase(
        client, imaged_cohort, patient.pseudonym, reason="x", confirmation=patient.pseudonym
    )
    assert response.status_code in (403, 404)
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_coordinator_of_another_cohort_gets_404(client, imaged_cohort):
    outsider = factories.user_with_role(
        "coordinator", username="outsider", cohort=factories.CohortFactory(), staff=True
    )
    patient = Patient.objects.filter(cohort=imaged_cohort).first()
    client.force_login(outsider)
    url = reverse("scoring:patient-erase", args=[imaged_cohort.slug, patient.pseudonym])
    assert client.get(url).status_code == 404


def test_erasure_takes_the_patient_out_of_stored_results_before_any_recomputation(
    client, coordinator, imaged_cohort, monkeypatch, django_capture_on_commit_callbacks
):
    erased, kept = Patient.objects.filter(cohort=imaged_cohort).order_by("pseudonym")
    assert cohort_analyses_recompute(cohort_id=imaged_cohort.pk) == "done"
    cohort_beyond_recompute(cohort_id=imaged_cohort.pk)
    stored = AnalysisResult.objects.get(cohort=imaged_cohort, analysis="patient_scores")
    before = stored_result_value(stored)["unified"]
    assert {row["pseudonym"] for row in before} == {erased.pseudonym, kept.pseudonym}
    assert AnalysisResult.objects.filter(cohort=imaged_cohort, analysis="beyond_paper").exists()
    # No worker gets to it: what is stored right after the erasure is what anyone would see.
    monkeypatch.setattr("analytics.services._request_recompute", lambda cohort_id: None)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = _erase(
            client,
            imaged_cohort,
            erased.pseudonym,
            reason="Request 2026-118",
            confirmation=erased.pseudonym,
        )
    assert response.status_code == 302
    stored.refresh_from_db()
    for rows in stored_result_value(stored).values():
        assert {row["pseudonym"] for row in rows} == {kept.pseudonym}
    # The results beyond the paper name patients: gone until recomputed.
    assert not AnalysisResult.objects.filter(cohort=imaged_cohort, analysis="beyond_paper").exists()
    assert stored.updated_at > stored.computed_at
