"""The clinical pages: who may open them, what they show, and what a save does."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.urls import reverse

from cohorts.forms import mmt8_field_name
from cohorts.models import AuditEvent, ClinicalAssessment, Patient
from cohorts.services import (
    AGE_OUT_OF_RANGE,
    CK_NEGATIVE,
    MMT8_GROUP_KEYS,
    MMT8_GROUP_OUT_OF_RANGE,
    MMT8_TOTAL_NOT_SUM,
    SERONEGATIVE_WITH_ANTIBODY,
    patient_update,
)
from scoring.models import Read, ScoringProtocol
from tests import factories

GROUPS = {key: (8 if key == "neck_flexors" else 9) for key in MMT8_GROUP_KEYS}  # total 134


@pytest.fixture
def patient(cohort):
    site = factories.SiteFactory(code="uh-a", name="University Hospital A")
    cohort.sites.add(site)
    patient = factories.PatientFactory(
        cohort=cohort, pseudonym="IIM-0007", site=site, subtype="IMNM", antibodies=["SRP"]
    )
    # Complete but for the disease duration: 6 of the 7 items.
    factories.AssessmentFactory(
        patient=patient, ck=9000, ck_uln=180, treatment_naive=True, disease_duration_months=None
    )
    return patient


def _urls(cohort, patient) -> dict[str, str]:
    slug, pseudonym = cohort.slug, patient.pseudonym
    return {
        "list": reverse("cohorts:patient-list", args=[slug]),
        "create": reverse("cohorts:patient-create", args=[slug]),
        "detail": reverse("cohorts:patient-detail", args=[slug, pseudonym]),
        "edit": reverse("cohorts:patient-edit", args=[slug, pseudonym]),
        "baseline": reverse("cohorts:assessment-edit", args=[slug, pseudonym, 0]),
        "new-timepoint": reverse("cohorts:assessment-edit", args=[slug, pseudonym, 1]),
    }


def _patient_post(**data: Any) -> dict[str, Any]:
    values = {
        "sex": "F",
        "age_at_mri": "64",
        "subtype": "DM",
        "classification_criteria": ["eular-acr-2017"],
        "antibodies": ["Mi-2"],
        "biopsy_done": "yes",
        "emg_myopathic": "yes",
        "pseudonym": "IIM-0100",
    }
    return {**values, **data}


def _baseline_post(**data: Any) -> dict[str, Any]:
    values = {
        "baseline-disease_duration_months": "5.5",
        "baseline-mmt8_mode": "total",
        "baseline-mmt8_total": "121",
        "baseline-ck": "4200",
        "baseline-ck_uln": "170",
        "baseline-treatment_naive": "yes",
    }
    return {**values, **data}


def _assessment_post(**data: Any) -> dict[str, Any]:
    return {"mmt8_mode": "total", "mmt8_total": "130", "ck": "1200", **data}


def _text(response) -> str:
    return response.content.decode()


def _has_message(response, message: str) -> bool:
    return html.escape(message) in _text(response)


# --- who may open what ------------------------------------------------------------------------


@pytest.mark.django_db
def test_radiologist_gets_403_on_every_clinical_page_and_post(client, radiologist, cohort, patient):
    client.force_login(radiologist)
    for name, url in _urls(cohort, patient).items():
        assert client.get(url).status_code == 403, name
        assert client.post(url, _patient_post()).status_code == 403, name
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_radiologist_gets_403_even_for_a_cohort_they_do_not_belong_to(client, radiologist):
    other = factories.PatientFactory()
    client.force_login(radiologist)
    for name, url in _urls(other.cohort, other).items():
        assert client.get(url).status_code == 403, name


@pytest.mark.django_db
def test_clinician_of_another_cohort_gets_404_on_every_clinical_page(client, clinician, patient):
    other_cohort = factories.CohortFactory(slug="elsewhere")
    outsider = factories.user_with_role("clinician", username="outsider", cohort=other_cohort)
    client.force_login(outsider)
    for name, url in _urls(patient.cohort, patient).items():
        assert client.get(url).status_code == 404, name
        assert client.post(url, _assessment_post()).status_code == 404, name
    assert ClinicalAssessment.objects.get(patient=patient).mmt8_total == 130  # the factory's


@pytest.mark.django_db
def test_a_patient_of_another_cohort_is_404_even_under_a_cohort_the_clinician_is_in(
    client,
    clinician,
    cohort,
):
    elsewhere = factories.PatientFactory(pseudonym="IIM-0500")
    client.force_login(clinician)
    url = reverse("cohorts:patient-detail", args=[cohort.slug, elsewhere.pseudonym])
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_anonymous_user_is_sent_to_login_from_every_clinical_page(client, cohort, patient):
    for name, url in _urls(cohort, patient).items():
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name


@pytest.mark.django_db
def test_statistician_can_view_but_not_edit(client, statistician, cohort, patient):
    client.force_login(statistician)
    urls = _urls(cohort, patient)
    assert client.get(urls["list"]).status_code == 200
    detail = client.get(urls["detail"])
    assert detail.status_code == 200
    assert "IIM-0007" in _text(detail) and 'id="edit-patient"' not in _text(detail)
    for name in ("create", "edit", "baseline", "new-timepoint"):
        assert client.get(urls[name]).status_code == 403, name
        assert client.post(urls[name], _patient_post(age_at_mri="99")).status_code == 403, name
    patient.refresh_from_db()
    assert patient.age_at_mri == 70
    assert Patient.objects.count() == 1
    assert not AuditEvent.objects.filter(actor=statistician).exists()


@pytest.mark.django_db
def test_history_is_shown_to_clinicians_and_coordinators_but_not_statisticians(
    client,
    clinician,
    coordinator,
    statistician,
    patient,
):
    url = _urls(patient.cohort, patient)["detail"]
    for user, shown in [(clinician, True), (coordinator, True), (statistician, False)]:
        client.force_login(user)
        assert ('id="history"' in _text(client.get(url))) is shown, user.username


@pytest.mark.django_db
def test_coordinator_enrols_patients_but_clinical_measures_are_the_clinicians(
    client,
    coordinator,
    cohort,
    patient,
):
    client.force_login(coordinator)
    urls = _urls(cohort, patient)
    create = client.get(urls["create"])
    assert create.status_code == 200 and "baseline-ck" not in _text(create)
    response = client.post(urls["create"], _patient_post())
    assert response.status_code == 302
    assert not Patient.objects.get(pseudonym="IIM-0100").assessments.exists()
    assert client.get(urls["edit"]).status_code == 200
    assert client.get(urls["baseline"]).status_code == 403


# --- patient list -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_cohort_page_links_to_the_patient_list(client, clinician, cohort):
    client.force_login(clinician)
    response = client.get(reverse("cohorts:cohort-detail", args=[cohort.slug]))
    assert reverse("cohorts:patient-list", args=[cohort.slug]) in _text(response)


@pytest.mark.django_db
def test_patient_list_shows_completeness_with_missing_items_and_study_and_read_counts(
    client,
    clinician,
    cohort,
    patient,
):
    bare = factories.PatientFactory(cohort=cohort, pseudonym="IIM-0008", sex="U", age_at_mri=None)
    study = factories.StudyFactory(patient=bare)
    factories.StudyFactory(patient=bare)
    Read.objects.create(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="whole-body-iim"),
        reader=factories.user_with_role("radiologist", username="reader-x"),
        blind_label="R-LIST",
    )
    client.force_login(clinician)
    text = _text(client.get(_urls(cohort, patient)["list"]))
    rows = {m[0]: m[1] for m in re.findall(r">(IIM-\d{4})</a>(.*?)</tr>", text, re.S)}
    assert "6/7 fields" in rows["IIM-0007"] and "missing disease duration" in rows["IIM-0007"]
    assert "0/7 fields" in rows["IIM-0008"]
    assert "missing sex, age, antibody status, disease duration, MMT-8, CK" in rows["IIM-0008"]
    assert re.findall(r'<td class="num">(\d+)</td>', rows["IIM-0008"]) == ["2", "1"]


@pytest.mark.django_db
def test_patient_list_searches_pseudonyms_and_filters_by_site_subtype_and_completeness(
    client,
    clinician,
    cohort,
    patient,
):
    other_site = factories.SiteFactory(code="uh-b", name="University Hospital B")
    cohort.sites.add(other_site)
    complete = factories.PatientFactory(
        cohort=cohort, pseudonym="IIM-0021", site=other_site, subtype="IBM", seronegative=True
    )
    factories.AssessmentFactory(patient=complete, treatment_naive=False)
    client.force_login(clinician)
    url = _urls(cohort, patient)["list"]

    def listed(**params: str) -> set[str]:
        return set(re.findall(r">(IIM-\d{4})</a>", _text(client.get(url, params))))

    assert listed() == {"IIM-0007", "IIM-0021"}
    assert listed(q="0021") == {"IIM-0021"}
    assert listed(q="iim-00") == {"IIM-0007", "IIM-0021"}
    assert listed(site=str(other_site.pk)) == {"IIM-0021"}
    assert listed(subtype="IMNM") == {"IIM-0007"}
    assert listed(completeness="complete") == {"IIM-0021"}
    assert listed(completeness="incomplete") == {"IIM-0007"}
    assert listed(completeness="missing-disease_duration") == {"IIM-0007"}
    assert listed(completeness="missing-ck") == set()
    assert listed(subtype="IBM", completeness="complete", q="21") == {"IIM-0021"}


# --- creating and editing ---------------------------------------------------------------------


@pytest.mark.django_db
def test_clinician_creates_a_patient_with_baseline_in_one_save(client, clinician, cohort):
    client.force_login(clinician)
    response = client.post(
        reverse("cohorts:patient-create", args=[cohort.slug]),
        {**_patient_post(), **_baseline_post()},
    )
    assert response.status_code == 302
    patient = Patient.objects.get(cohort=cohort, pseudonym="IIM-0100")
    assert response["Location"] == reverse("cohorts:patient-detail", args=[cohort.slug, "IIM-0100"])
    assert (patient.sex, patient.age_at_mri, patient.subtype) == ("F", 64, "DM")
    assert patient.antibodies == ["Mi-2"] and patient.biopsy_done is True
    baseline = patient.assessments.get(timepoint=0)
    assert (baseline.mmt8_total, baseline.ck, baseline.ck_uln) == (121, 4200, 170)
    assert baseline.treatment_naive is True
    actions = set(AuditEvent.objects.filter(actor=clinician).values_list("action", flat=True))
    assert actions == {"patient.create", "assessment.create"}


@pytest.mark.django_db
def test_an_invalid_new_patient_saves_nothing_and_keeps_what_was_typed(client, clinician, cohort):
    client.force_login(clinician)
    data = {
        **_patient_post(age_at_mri="130", seronegative="on"),
        **_baseline_post(**{"baseline-ck": "-4"}),
    }
    response = client.post(reverse("cohorts:patient-create", args=[cohort.slug]), data)
    assert response.status_code == 200
    assert not Patient.objects.filter(cohort=cohort).exists()
    assert not AuditEvent.objects.exists()
    for message in (AGE_OUT_OF_RANGE, SERONEGATIVE_WITH_ANTIBODY, CK_NEGATIVE):
        assert _has_message(response, message), message
    text = _text(response)
    assert 'name="age_at_mri" value="130"' in text
    assert 'name="baseline-mmt8_total" value="121"' in text
    assert 'name="baseline-ck" value="-4"' in text
    assert re.search(r'value="Mi-2"[^>]*checked', text)


@pytest.mark.django_db
def test_an_invalid_edit_keeps_the_saved_values_and_shows_the_error(client, clinician, patient):
    client.force_login(clinician)
    url = _urls(patient.cohort, patient)["edit"]
    response = client.post(url, _patient_post(age_at_mri="121", subtype="IBM"))
    assert response.status_code == 200 and _has_message(response, AGE_OUT_OF_RANGE)
    assert 'id="id_age_at_mri_error"' in _text(response)
    assert 'aria-invalid="true"' in _text(response)
    patient.refresh_from_db()
    assert (patient.age_at_mri, patient.subtype) == (70, "IMNM")


@pytest.mark.django_db
def test_editing_a_patient_records_old_and_new_in_the_history(client, clinician, patient):
    client.force_login(clinician)
    urls = _urls(patient.cohort, patient)
    response = client.post(urls["edit"], _patient_post(subtype="PM", age_at_mri="71"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="patient.update")
    assert event.actor == clinician
    assert event.old["subtype"] == "IMNM" and event.new["subtype"] == "PM"
    assert event.old["age_at_mri"] == 70 and event.new["age_at_mri"] == 71
    history = _text(client.get(urls["detail"])).split('id="history"')[1]
    assert "clinician" in history
    assert re.search(
        r"Age at MRI</span>: <span class=\"old\">70</span> → <span class=\"new\">71", history
    )
    assert 'Immune-mediated necrotizing myopathy</span> → <span class="new">Polymyositis' in history


@pytest.mark.django_db
def test_mmt8_per_muscle_group_is_stored_with_the_server_computed_total(client, clinician, patient):
    client.force_login(clinician)
    url = _urls(patient.cohort, patient)["baseline"]
    groups = {mmt8_field_name(key): str(value) for key, value in GROUPS.items()}
    response = client.post(url, {"mmt8_mode": "groups", "mmt8_total": "", **groups})
    assert response.status_code == 302
    assessment = ClinicalAssessment.objects.get(patient=patient, timepoint=0)
    assert assessment.mmt8_groups == GROUPS
    assert assessment.mmt8_total == 134
    event = AuditEvent.objects.get(action="assessment.update")
    assert event.old["mmt8_total"] == 130 and event.new["mmt8_total"] == 134
    history = _text(client.get(_urls(patient.cohort, patient)["detail"]))
    assert (
        'MMT-8 Deltoid (right)</span>: <span class="old">—</span> → <span class="new">9' in history
    )


@pytest.mark.django_db
def test_a_browser_total_that_disagrees_with_the_groups_is_refused(client, clinician, patient):
    client.force_login(clinician)
    url = _urls(patient.cohort, patient)["baseline"]
    groups = {mmt8_field_name(key): str(value) for key, value in GROUPS.items()}
    response = client.post(url, {"mmt8_mode": "groups", "mmt8_total": "150", **groups})
    assert response.status_code == 200
    assert _has_message(response, MMT8_TOTAL_NOT_SUM.format(total=134))
    assert ClinicalAssessment.objects.get(patient=patient, timepoint=0).mmt8_total == 130


@pytest.mark.django_db
def test_a_group_out_of_range_is_listed_under_the_grid_and_nothing_is_saved(
    client, clinician, patient
):
    client.force_login(clinician)
    url = _urls(patient.cohort, patient)["baseline"]
    groups = {mmt8_field_name(key): str(value) for key, value in GROUPS.items()}
    groups[mmt8_field_name("quadriceps_left")] = "12"
    response = client.post(url, {"mmt8_mode": "groups", **groups})
    assert response.status_code == 200
    assert _has_message(response, f"Quadriceps (left): {MMT8_GROUP_OUT_OF_RANGE}")
    assert 'name="mmt8_quadriceps_left" value="12"' in _text(response)
    assert ClinicalAssessment.objects.get(patient=patient, timepoint=0).mmt8_groups == {}


@pytest.mark.django_db
def test_timepoints_are_added_one_after_the_other(client, clinician, patient):
    client.force_login(clinician)
    urls = _urls(patient.cohort, patient)
    response = client.post(urls["new-timepoint"], _assessment_post(days_from_baseline="182"))
    assert response.status_code == 302
    follow_up = ClinicalAssessment.objects.get(patient=patient, timepoint=1)
    assert (follow_up.days_from_baseline, follow_up.mmt8_total) == (182, 130)
    too_far = reverse("cohorts:assessment-edit", args=[patient.cohort.slug, patient.pseudonym, 5])
    assert client.get(too_far).status_code == 404


@pytest.mark.django_db
def test_ck_times_uln_is_shown_on_the_page(client, clinician, patient):
    client.force_login(clinician)
    urls = _urls(patient.cohort, patient)
    assert "50.0 × ULN" in _text(client.get(urls["baseline"]))  # 9000 / 180
    assert '<td class="num">50.0</td>' in _text(client.get(urls["detail"]))


# --- keyboard entry and the Content-Security-Policy -------------------------------------------


@pytest.mark.django_db
def test_new_patient_fields_come_in_table_1_order_with_the_first_focused(client, clinician, cohort):
    client.force_login(clinician)
    text = _text(client.get(reverse("cohorts:patient-create", args=[cohort.slug])))
    order = [
        "sex",
        "age_at_mri",
        "subtype",
        "classification_criteria",
        "antibodies",
        "seronegative",
        "baseline-disease_duration_months",
        "baseline-mmt8_mode",
        "baseline-mmt8_total",
        "baseline-ck",
        "baseline-ck_uln",
        "baseline-treatment_naive",
        "baseline-immunosuppression_agents",
    ]
    positions = [text.index(f'name="{name}"') for name in order]
    assert positions == sorted(positions)
    assert re.search(r'<select name="sex"[^>]*autofocus', text)
    assert text.count("autofocus") == 1
    assert not re.search(r'tabindex="[1-9]', text)  # the DOM order is the tab order
    assert re.search(r'<button type="submit" class="primary">', text)  # Enter submits


@pytest.mark.django_db
def test_clinical_pages_load_their_script_by_src_and_have_no_inline_code(
    client, clinician, patient
):
    client.force_login(clinician)
    urls = _urls(patient.cohort, patient)
    for name in ("create", "edit", "baseline"):
        text = _text(client.get(urls[name]))
        assert '<script type="module" src="/static/js/clinical.js"></script>' in text, name
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (name, tag)
        assert not re.search(r"\son[a-z]+=", text), name
        assert "Content-Security-Policy" in client.get(urls[name]).headers


@pytest.mark.django_db
def test_a_patient_edit_by_service_appears_in_the_history_with_its_author(
    client, clinician, patient
):
    patient_update(patient=patient, actor=clinician, seronegative=False, antibodies=["SRP", "Ro52"])
    client.force_login(clinician)
    history = _text(client.get(_urls(patient.cohort, patient)["detail"])).split('id="history"')[1]
    assert "Patient changed" in history
    assert '<span class="old">SRP</span> → <span class="new">SRP, Ro52</span>' in history
