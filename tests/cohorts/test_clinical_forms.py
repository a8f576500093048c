"""Clinical data rules: each is refused by the forms and by the services with its message, and
every accepted change is audited with its old and new values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from cohorts.forms import (
    PSEUDONYM_INVALID,
    PSEUDONYM_TAKEN,
    AssessmentForm,
    PatientForm,
    mmt8_field_name,
)
from cohorts.models import AuditEvent, ClinicalAssessment, Patient
from cohorts.services import (
    AGE_OUT_OF_RANGE,
    CK_NEGATIVE,
    CK_TOO_HIGH,
    CK_ULN_OUT_OF_RANGE,
    DISEASE_DURATION_NEGATIVE,
    MMT8_GROUP_KEYS,
    MMT8_GROUP_OUT_OF_RANGE,
    MMT8_GROUPS_INCOMPLETE,
    MMT8_TOTAL_NOT_SUM,
    MMT8_TOTAL_OUT_OF_RANGE,
    SERONEGATIVE_WITH_ANTIBODY,
    TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION,
    assessment_save,
    ck_times_uln,
    patient_create,
    patient_create_with_baseline,
    patient_update,
)
from tests import factories

# A full MMT-8 sheet: neck flexors 8, every paired group 9 → 8 + 14 × 9 = 134.
GROUPS = {key: (8 if key == "neck_flexors" else 9) for key in MMT8_GROUP_KEYS}
GROUPS_TOTAL = 134


def _patient_form(cohort, **data: Any) -> PatientForm:
    values = {"sex": "F", "subtype": "DM", "emg_myopathic": "not-done", "pseudonym": "IIM-0900"}
    return PatientForm({**values, **data}, cohort=cohort)


def _assessment_form(timepoint: int = 0, **data: Any) -> AssessmentForm:
    return AssessmentForm({"mmt8_mode": "total", **data}, timepoint=timepoint)


def _group_data(groups: dict[str, Any]) -> dict[str, Any]:
    return {mmt8_field_name(key): value for key, value in groups.items()}


def _errors(form) -> dict[str, list[str]]:
    assert not form.is_valid()
    return form.errors


# --- patient form -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("age", [-1, 121, 200])
def test_age_outside_0_to_120_is_refused_next_to_the_age(cohort, age):
    assert _errors(_patient_form(cohort, age_at_mri=age))["age_at_mri"] == [AGE_OUT_OF_RANGE]


@pytest.mark.django_db
@pytest.mark.parametrize("age", [0, 45, 120])
def test_age_from_0_to_120_is_accepted(cohort, age):
    form = _patient_form(cohort, age_at_mri=age)
    assert form.is_valid(), form.errors
    assert form.patient_fields()["age_at_mri"] == age


@pytest.mark.django_db
def test_seronegative_with_a_positive_antibody_is_refused(cohort):
    form = _patient_form(cohort, seronegative="on", antibodies=["Jo-1"])
    assert _errors(form)["seronegative"] == [SERONEGATIVE_WITH_ANTIBODY]


@pytest.mark.django_db
def test_antibodies_and_criteria_are_stored_as_their_codes(cohort):
    form = _patient_form(
        cohort, antibodies=["TIF1-γ", "PM-Scl"], classification_criteria=["eular-acr-2017"]
    )
    assert form.is_valid(), form.errors
    fields = form.patient_fields()
    assert fields["antibodies"] == ["TIF1-γ", "PM-Scl"]
    assert fields["classification_criteria"] == ["eular-acr-2017"]
    assert fields["biopsy_done"] is None  # "Unknown"


@pytest.mark.django_db
def test_a_pseudonym_already_in_the_cohort_is_refused(cohort):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0900")
    assert _errors(_patient_form(cohort))["pseudonym"] == [PSEUDONYM_TAKEN]


@pytest.mark.django_db
@pytest.mark.parametrize("pseudonym", ["IIM 0900", "IIM/0900", "-IIM"])
def test_a_pseudonym_that_cannot_be_part_of_a_url_is_refused(cohort, pseudonym):
    assert _errors(_patient_form(cohort, pseudonym=pseudonym))["pseudonym"] == [PSEUDONYM_INVALID]


@pytest.mark.django_db
def test_a_new_patient_form_offers_the_next_free_pseudonym(cohort):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    assert PatientForm(cohort=cohort).fields["pseudonym"].initial == "IIM-0002"


# --- assessment form --------------------------------------------------------------------------


@pytest.mark.parametrize("total", [-1, 151])
def test_mmt8_total_outside_0_to_150_is_refused(total):
    assert _errors(_assessment_form(mmt8_total=total))["mmt8_total"] == [MMT8_TOTAL_OUT_OF_RANGE]


@pytest.mark.parametrize("score", [-1, 11])
def test_an_mmt8_group_outside_0_to_10_is_refused_on_that_group(score):
    data = _group_data({**GROUPS, "deltoid_left": score})
    errors = _errors(_assessment_form(mmt8_mode="groups", **data))
    assert errors[mmt8_field_name("deltoid_left")] == [MMT8_GROUP_OUT_OF_RANGE]
    assert set(errors) == {mmt8_field_name("deltoid_left")}


def test_mmt8_groups_must_all_be_scored():
    data = _group_data({k: v for k, v in GROUPS.items() if k != "quadriceps_right"})
    errors = _errors(_assessment_form(mmt8_mode="groups", **data))
    assert errors[mmt8_field_name("quadriceps_right")] == [MMT8_GROUPS_INCOMPLETE]


def test_the_mmt8_total_is_the_sum_of_the_groups_computed_on_the_server():
    form = _assessment_form(mmt8_mode="groups", **_group_data(GROUPS))
    assert form.is_valid(), form.errors
    fields = form.assessment_fields()
    assert fields["mmt8_groups"] == GROUPS
    assert form.cleaned_data["mmt8_total"] == GROUPS_TOTAL
    # Nothing typed in the total: the service derives it rather than trusting a browser's sum.
    assert fields["mmt8_total"] is None


def test_a_typed_total_that_differs_from_the_groups_sum_is_refused():
    form = _assessment_form(mmt8_mode="groups", mmt8_total=GROUPS_TOTAL + 1, **_group_data(GROUPS))
    assert _errors(form)["mmt8_total"] == [MMT8_TOTAL_NOT_SUM.format(total=GROUPS_TOTAL)]


def test_groups_left_in_the_grid_are_ignored_when_the_total_is_entered():
    data = _group_data({**GROUPS, "neck_flexors": 99})
    form = _assessment_form(mmt8_total=120, **data)
    assert form.is_valid(), form.errors
    assert form.assessment_fields()["mmt8_groups"] == {}
    assert form.assessment_fields()["mmt8_total"] == 120


def test_negative_ck_is_refused():
    assert _errors(_assessment_form(ck=-1))["ck"] == [CK_NEGATIVE]


def test_implausibly_high_ck_is_refused():
    assert _errors(_assessment_form(ck=1_000_001))["ck"] == [CK_TOO_HIGH]


@pytest.mark.parametrize("uln", [0, -5, 10_001])
def test_ck_upper_limit_of_normal_outside_1_to_10000_is_refused(uln):
    assert _errors(_assessment_form(ck_uln=uln))["ck_uln"] == [CK_ULN_OUT_OF_RANGE]


def test_negative_disease_duration_is_refused():
    errors = _errors(_assessment_form(disease_duration_months="-0.5"))
    assert errors["disease_duration_months"] == [DISEASE_DURATION_NEGATIVE]


def test_treatment_naive_with_current_immunosuppression_is_refused():
    form = _assessment_form(treatment_naive="yes", immunosuppression_other="rituximab")
    assert _errors(form)["treatment_naive"] == [TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION]


def test_immunosuppression_joins_ticked_agents_and_free_text_without_duplicates():
    form = _assessment_form(
        treatment_naive="no",
        immunosuppression_agents=["Glucocorticoids", "Methotrexate"],
        immunosuppression_other=" methotrexate,  tofacitinib , ,Anakinra",
    )
    assert form.is_valid(), form.errors
    fields = form.assessment_fields()
    assert fields["immunosuppression"] == [
        "Glucocorticoids",
        "Methotrexate",
        "tofacitinib",
        "Anakinra",
    ]
    assert fields["treatment_naive"] is False


def test_a_follow_up_needs_days_from_baseline_and_the_baseline_has_none():
    assert "days_from_baseline" not in AssessmentForm(timepoint=0).fields
    assert "days_from_baseline" in _errors(_assessment_form(timepoint=1))
    form = _assessment_form(timepoint=1, days_from_baseline=180)
    assert form.is_valid(), form.errors
    assert form.assessment_fields()["days_from_baseline"] == 180


def test_ck_times_uln_is_rounded_half_up_to_one_decimal():
    assert ck_times_uln(1900, 190) == Decimal("10.0")
    assert ck_times_uln(1235, 190) == Decimal("6.5")  # 6.4999… would be 6.5 only half up
    assert ck_times_uln(95, 190) == Decimal("0.5")
    assert ck_times_uln(None, 190) is None
    assert ck_times_uln(1900, None) is None


# --- services: the same rules for every caller ------------------------------------------------


@pytest.mark.django_db
def test_service_refuses_seronegative_with_antibody_and_saves_nothing(cohort):
    with pytest.raises(ValidationError) as excinfo:
        patient_create(cohort=cohort, actor=None, antibodies=["SRP"], seronegative=True)
    assert excinfo.value.message_dict["seronegative"] == [SERONEGATIVE_WITH_ANTIBODY]
    assert not Patient.objects.filter(cohort=cohort).exists()


@pytest.mark.django_db
def test_service_refuses_age_above_120_with_the_rule_message(cohort):
    patient = factories.PatientFactory(cohort=cohort, age_at_mri=70)
    with pytest.raises(ValidationError) as excinfo:
        patient_update(patient=patient, actor=None, age_at_mri=130)
    assert excinfo.value.message_dict["age_at_mri"] == [AGE_OUT_OF_RANGE]
    patient.refresh_from_db()
    assert patient.age_at_mri == 70


@pytest.mark.django_db
def test_service_derives_the_mmt8_total_from_the_groups():
    patient = factories.PatientFactory()
    assessment = assessment_save(patient=patient, timepoint=0, actor=None, mmt8_groups=GROUPS)
    assert assessment.mmt8_total == GROUPS_TOTAL


@pytest.mark.django_db
def test_service_refuses_a_total_that_is_not_the_sum_of_the_groups():
    patient = factories.PatientFactory()
    with pytest.raises(ValidationError) as excinfo:
        assessment_save(
            patient=patient, timepoint=0, actor=None, mmt8_groups=GROUPS, mmt8_total=150
        )
    assert excinfo.value.message_dict["mmt8_total"] == [
        MMT8_TOTAL_NOT_SUM.format(total=GROUPS_TOTAL)
    ]
    assert not ClinicalAssessment.objects.filter(patient=patient).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({**GROUPS, "biceps_left": 11}, MMT8_GROUP_OUT_OF_RANGE),
        ({**GROUPS, "biceps_left": True}, MMT8_GROUP_OUT_OF_RANGE),
        ({**GROUPS, "biceps_left": "9"}, MMT8_GROUP_OUT_OF_RANGE),
        ({k: v for k, v in GROUPS.items() if k != "biceps_left"}, MMT8_GROUPS_INCOMPLETE),
        ({**GROUPS, "little_toe": 3}, MMT8_GROUPS_INCOMPLETE),
    ],
)
def test_service_refuses_an_incomplete_or_out_of_range_mmt8_sheet(groups, message):
    patient = factories.PatientFactory()
    with pytest.raises(ValidationError) as excinfo:
        assessment_save(patient=patient, timepoint=0, actor=None, mmt8_groups=groups)
    assert excinfo.value.message_dict["mmt8_groups"] == [message]


@pytest.mark.django_db
def test_a_total_alone_cannot_contradict_stored_groups_but_can_replace_them():
    patient = factories.PatientFactory()
    assessment_save(patient=patient, timepoint=0, actor=None, mmt8_groups=GROUPS)
    with pytest.raises(ValidationError):
        assessment_save(patient=patient, timepoint=0, actor=None, mmt8_total=100)
    replaced = assessment_save(
        patient=patient, timepoint=0, actor=None, mmt8_total=100, mmt8_groups={}
    )
    assert (replaced.mmt8_total, replaced.mmt8_groups) == (100, {})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"ck": -5}, "ck", CK_NEGATIVE),
        ({"ck_uln": 0}, "ck_uln", CK_ULN_OUT_OF_RANGE),
        ({"mmt8_total": 151}, "mmt8_total", MMT8_TOTAL_OUT_OF_RANGE),
        ({"disease_duration_months": Decimal("-1")}, "disease_duration_months",
         DISEASE_DURATION_NEGATIVE),
        ({"treatment_naive": True, "immunosuppression": ["Rituximab"]}, "treatment_naive",
         TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION),
    ],
)  # fmt: skip
def test_service_refuses_each_assessment_rule_with_its_message(fields, field, message):
    patient = factories.PatientFactory()
    with pytest.raises(ValidationError) as excinfo:
        assessment_save(patient=patient, timepoint=0, actor=None, **fields)
    assert excinfo.value.message_dict[field] == [message]
    assert not ClinicalAssessment.objects.filter(patient=patient).exists()


@pytest.mark.django_db
def test_a_new_patient_with_an_invalid_baseline_is_not_saved_at_all(cohort, clinician):
    with pytest.raises(ValidationError):
        patient_create_with_baseline(cohort=cohort, actor=clinician, sex="F", baseline={"ck": -1})
    assert not Patient.objects.filter(cohort=cohort).exists()
    assert not AuditEvent.objects.filter(cohort=cohort).exists()


# --- audit trail and stale analyses -----------------------------------------------------------


@pytest.mark.django_db
def test_a_patient_change_is_audited_with_who_and_old_and_new_values(cohort, clinician):
    patient = factories.PatientFactory(cohort=cohort, age_at_mri=70, antibodies=[])
    patient_update(patient=patient, actor=clinician, age_at_mri=71, antibodies=["Jo-1"])
    event = AuditEvent.objects.get(action="patient.update", target_id=str(patient.pk))
    assert event.actor == clinician
    assert event.cohort == cohort
    assert event.old == {"age_at_mri": 70, "antibodies": []}
    assert event.new == {"age_at_mri": 71, "antibodies": ["Jo-1"]}


@pytest.mark.django_db
def test_an_assessment_change_is_audited_with_old_and_new_mmt8(cohort, clinician):
    patient = factories.PatientFactory(cohort=cohort)
    assessment = assessment_save(patient=patient, timepoint=0, actor=clinician, mmt8_total=120)
    assessment_save(patient=patient, timepoint=0, actor=clinician, mmt8_groups=GROUPS)
    events = AuditEvent.objects.filter(target_id=str(assessment.pk)).order_by("id")
    assert [e.action for e in events] == ["assessment.create", "assessment.update"]
    assert events[0].new["mmt8_total"] == 120
    assert events[1].old == {"mmt8_total": 120, "mmt8_groups": {}}
    assert events[1].new == {"mmt8_total": GROUPS_TOTAL, "mmt8_groups": GROUPS}
    assert events[1].actor == clinician


@pytest.mark.django_db
def test_an_unchanged_save_writes_no_audit_row(cohort, clinician):
    patient = factories.PatientFactory(cohort=cohort, age_at_mri=70)
    patient_update(patient=patient, actor=clinician, age_at_mri=70)
    assert not AuditEvent.objects.filter(action="patient.update").exists()


@pytest.mark.django_db
def test_clinical_changes_ask_analytics_for_fresh_results(cohort, clinician, monkeypatch):
    import analytics.services

    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(analytics.services, "results_mark_stale", lambda **kw: asked.append(kw))
    patient = factories.PatientFactory(cohort=cohort, age_at_mri=50)
    patient_update(patient=patient, actor=clinician, age_at_mri=51)
    assessment_save(patient=patient, timepoint=0, actor=clinician, ck=800)
    assert asked == [{"cohort_id": cohort.pk}, {"cohort_id": cohort.pk}]


@pytest.mark.django_db
def test_seed_style_calls_of_the_services_still_work(cohort):
    site = factories.SiteFactory()
    patient = patient_create(
        cohort=cohort,
        actor=None,
        pseudonym="IIM-0042",
        source_patient_id="SRC-42",
        is_synthetic=True,
        site=site,
        sex="M",
        age_at_mri=61,
        subtype="ASYS",
        classification_criteria=["enmc-asys-2024"],
        antibodies=["Jo-1", "Ro52"],
        seronegative=False,
        biopsy_done=None,
    )
    assessment = assessment_save(
        patient=patient,
        timepoint=0,
        actor=None,
        days_from_baseline=0,
        disease_duration_months=Decimal("3.5"),
        ck=2400,
        ck_uln=190,
        mmt8_total=131,
        treatment_naive=True,
    )
    assert (assessment.mmt8_total, assessment.mmt8_groups) == (131, {})
