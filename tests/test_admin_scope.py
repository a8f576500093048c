"""The admin no longer bypasses cohort membership or the services (issue 22, item 1): the
probe's coordinator changed a patient of another cohort (DM → IBM), added themselves to that
cohort through its membership inline, and changed a subtype without an audit row or stale
results."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cohorts.models import AuditEvent, CohortMembership, Patient
from scoring.models import ScoringProtocol
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_cohort(db):
    return factories.CohortFactory(slug="not-mine")


def test_a_coordinator_cannot_change_a_patient_of_another_cohort(client, coordinator, other_cohort):
    patient = factories.PatientFactory(cohort=other_cohort, subtype="DM")
    client.force_login(coordinator)
    url = reverse("admin:cohorts_patient_change", args=[patient.pk])
    assert client.get(url).status_code == 403
    response = client.post(url, {"subtype": "IBM", "sex": "F", "emg_myopathic": "not_done"})
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.subtype == "DM"


def test_a_coordinator_cannot_list_patients_in_the_admin(client, coordinator, cohort):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0042")
    client.force_login(coordinator)
    response = client.get(reverse("admin:cohorts_patient_changelist"))
    assert response.status_code == 403


def test_a_coordinator_cannot_join_another_cohort_through_the_admin(
    client, coordinator, other_cohort
):
    client.force_login(coordinator)
    url = reverse("admin:cohorts_cohort_change", args=[other_cohort.pk])
    data = {
        "slug": other_cohort.slug,
        "title": other_cohort.title,
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": str(coordinator.pk),
    }
    assert client.post(url, data).status_code == 403
    assert not CohortMembership.objects.filter(cohort=other_cohort, user=coordinator).exists()


def test_a_superusers_admin_change_of_a_subtype_is_audited_and_marks_results_stale(
    client, cohort, django_capture_on_commit_callbacks, monkeypatch
):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    patient = factories.PatientFactory(cohort=cohort, subtype="DM", sex="F")
    stale = []
    monkeypatch.setattr(
        "analytics.services._request_recompute", lambda cohort_id: stale.append(cohort_id)
    )
    client.force_login(admin_user)
    url = reverse("admin:cohorts_patient_change", args=[patient.pk])
    data = {
        "sex": "F",
        "subtype": "IBM",
        "site": patient.site_id or "",
        "age_at_mri": str(patient.age_at_mri or ""),
        "classification_criteria": "[]",
        "antibodies": "[]",
        "emg_myopathic": patient.emg_myopathic,
        "biopsy_done": "unknown",
        "assessments-TOTAL_FORMS": "0",
        "assessments-INITIAL_FORMS": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    patient.refresh_from_db()
    assert patient.subtype == "IBM"
    event = AuditEvent.objects.get(action="patient.update", target_id=str(patient.pk))
    assert (event.old, event.new, event.actor) == (
        {"subtype": "DM"},
        {"subtype": "IBM"},
        admin_user,
    )
    assert stale == [cohort.pk]


def test_a_coordinator_sees_only_their_cohorts_audit_trail(
    client, coordinator, cohort, other_cohort
):
    from cohorts.services import patient_create

    mine = patient_create(cohort=cohort, actor=None, pseudonym="IIM-0001")
    theirs = patient_create(cohort=other_cohort, actor=None, pseudonym="IIM-0002")
    client.force_login(coordinator)
    page = client.get(reverse("admin:cohorts_auditevent_changelist")).content.decode()
    assert f">{mine.pk}<" in page
    assert f">{theirs.pk}<" not in page
    other_event = AuditEvent.objects.get(target_id=str(theirs.pk), action="patient.create")
    url = reverse("admin:cohorts_auditevent_change", args=[other_event.pk])
    assert client.get(url).status_code == 302  # the admin's "no such object" redirect


def _series(cohort, uid: str):
    from cohorts.models import Series

    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    return Series.objects.create(study=study, series_uid=uid, sequence="OTHER")


def test_a_series_sequence_fix_in_the_admin_is_audited_and_scoped(
    client, coordinator, cohort, other_cohort, monkeypatch, django_capture_on_commit_callbacks
):
    stale = []
    monkeypatch.setattr(
        "analytics.services._request_recompute", lambda cohort_id: stale.append(cohort_id)
    )
    mine = _series(cohort, "2.25.71")
    theirs = _series(other_cohort, "2.25.72")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:cohorts_series_change", args=[mine.pk]), {"sequence": "T1"}
        )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.sequence == "T1"
    event = AuditEvent.objects.get(action="series.sequence", target_id=str(mine.pk))
    assert (event.old, event.new, event.cohort_id) == ("OTHER", "T1", cohort.pk)
    assert stale == [cohort.pk]
    client.post(reverse("admin:cohorts_series_change", args=[theirs.pk]), {"sequence": "T1"})
    theirs.refresh_from_db()
    assert theirs.sequence == "OTHER"


def test_a_protocol_change_in_the_admin_is_audited_and_marks_its_cohorts_stale(
    client, coordinator, cohort, monkeypatch, django_capture_on_commit_callbacks
):
    from scoring.models import CohortProtocol

    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    CohortProtocol.objects.create(cohort=cohort, protocol=protocol)
    stale = []
    monkeypatch.setattr(
        "analytics.services._request_recompute", lambda cohort_id: stale.append(cohort_id)
    )
    client.force_login(coordinator)
    url = reverse("admin:scoring_scoringprotocol_change", args=[protocol.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data["muscles"] = [m.pk for m in data["muscles"]]
    data["sequences"] = '["STIR", "T1"]'
    data["region_findings"] = "[]"
    data["sequence_combine"] = "mean"
    data = {k: v for k, v in data.items() if v is not None}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="scoringprotocol.update", target_id=str(protocol.pk))
    assert event.old["sequence_combine"] == "max" and event.new["sequence_combine"] == "mean"
    assert stale == [cohort.pk]
    assert not Patient.objects.exists()
