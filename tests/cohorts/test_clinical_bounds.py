"""Numeric fields of clinical data have sane bounds in the form and in the service, so no path
stores `days_from_baseline = 999999999999999999` (issue 22, item 5)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cohorts.forms import AssessmentForm
from cohorts.services import (
    DAYS_FROM_BASELINE_OUT_OF_RANGE,
    TIMEPOINT_OUT_OF_RANGE,
    assessment_save,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("days", ["999999999999999999", "36501"])
def test_the_form_refuses_days_from_baseline_beyond_a_century(days):
    form = AssessmentForm({"mmt8_mode": "total", "days_from_baseline": days}, timepoint=1)
    assert not form.is_valid()
    assert form.errors["days_from_baseline"] == [DAYS_FROM_BASELINE_OUT_OF_RANGE]


def test_the_form_accepts_a_long_follow_up():
    form = AssessmentForm({"mmt8_mode": "total", "days_from_baseline": "3650"}, timepoint=1)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("days", [999999999999999999, 36501, -1])
def test_the_service_refuses_days_from_baseline_out_of_range(cohort, days):
    patient = factories.PatientFactory(cohort=cohort)
    with pytest.raises(ValidationError) as refused:
        assessment_save(patient=patient, timepoint=1, actor=None, days_from_baseline=days)
    assert refused.value.message_dict["days_from_baseline"] == [DAYS_FROM_BASELINE_OUT_OF_RANGE]
    assert not patient.assessments.exists()


def test_the_service_refuses_a_timepoint_beyond_the_limit(cohort):
    patient = factories.PatientFactory(cohort=cohort)
    with pytest.raises(ValidationError) as refused:
        assessment_save(patient=patient, timepoint=5000, actor=None, days_from_baseline=1)
    assert refused.value.message_dict["timepoint"] == [TIMEPOINT_OUT_OF_RANGE]
