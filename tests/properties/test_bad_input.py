"""Property tests: whatever a person or a file sends, every form, parser and endpoint answers
with a named problem or a valid result, never a crash, and nothing half-written.

Hypothesis draws inputs mixing plausible values with garbage; each example runs in a savepoint
that is rolled back, so examples do not see each other's writes."""

from __future__ import annotations

import csv
import io
import json
import string

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from cohorts.forms import AssessmentForm, PatientForm
from cohorts.models import AuditEvent, ClinicalAssessment, Patient
from scoring.models import Grade, Read
from scoring.services import read_assign
from sheets.files import ImportRefused
from sheets.imports import score_sheet_import
from tests import factories

pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Cell texts: numbers in and out of range, decimals, signs, words, blanks, unicode, huge.
numberish = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "NA", "na", "N/A", "-", "1e9", "0x10", "１２", "٣", "½", "NaN"]),
    st.text(alphabet=string.printable + "äöüγ€\u200b", max_size=12),
)
muscles = st.sampled_from(["deltoid", "gracilis", "rectus-femoris", "Deltoid", "psoas", ""])
sides = st.sampled_from(["L", "R", "M", "l", "left", "", "X"])
sequences = st.sampled_from(["STIR", "T1", "stir", "T2", ""])


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _counts() -> tuple[int, ...]:
    return (
        Grade.objects.count(),
        Read.objects.count(),
        Patient.objects.count(),
        ClinicalAssessment.objects.count(),
        AuditEvent.objects.count(),
    )


def _import_or_refusal(cohort, content: bytes, filename: str) -> None:
    before = _counts()
    with transaction.atomic():
        try:
            score_sheet_import(cohort=cohort, content=content, filename=filename, actor=None)
        except ImportRefused as refusal:
            assert refusal.problems, "a refusal names at least one problem"
            for problem in refusal.problems:
                assert problem.row >= 0 and problem.reason.strip()
            assert _counts() == before, "a refused sheet wrote something"
        transaction.set_rollback(True)


@pytest.fixture
def cohort_with_patient(db):
    cohort = factories.CohortFactory()
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    return cohort


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["IIM-0001", "IIM-0002", "", "iim-0001 "]),
            numberish,
            st.sampled_from(["", "radiologist", "nobody"]),
            st.sampled_from(["submitted", "in_progress", "", "done"]),
            muscles,
            sides,
            sequences,
            numberish,
        ).map(list),
        max_size=8,
    )
)
def test_any_grades_sheet_is_imported_or_refused_with_its_rows_named(cohort_with_patient, rows):
    header = ["pseudonym", "timepoint", "reader", "read_status", "muscle", "side", "sequence",
              "grade"]  # fmt: skip
    _import_or_refusal(cohort_with_patient, _csv(header, rows), "grades.csv")


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["IIM-0001", "IIM-0003", "", "../x", "IIM 0004"]),
            st.sampled_from(["DM", "IBM", "PM", "ASYS", "IMNM", "other", "", "XYZ"]),
            st.sampled_from(["F", "M", "", "female", "?"]),
            numberish,
            numberish,
            numberish,
            numberish,
        ).map(list),
        max_size=6,
    )
)
def test_any_patients_sheet_is_imported_or_refused_with_its_rows_named(cohort_with_patient, rows):
    header = ["pseudonym", "subtype", "sex", "age", "ck", "mmt8", "disease_duration_months"]
    _import_or_refusal(cohort_with_patient, _csv(header, rows), "patients.csv")


@PROPERTY_SETTINGS
@given(content=st.binary(max_size=600), name=st.sampled_from(["a.csv", "a.xlsx", "a.txt", ""]))
def test_any_bytes_uploaded_as_a_sheet_are_refused_or_read(cohort_with_patient, content, name):
    _import_or_refusal(cohort_with_patient, content, name)


@PROPERTY_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "disease_duration_months": numberish,
            "mmt8_mode": st.sampled_from(["total", "groups", "", "x"]),
            "mmt8_total": numberish,
            "mmt8_neck_flexors": numberish,
            "mmt8_deltoid_right": numberish,
            "ck": numberish,
            "ck_uln": numberish,
            "treatment_naive": st.sampled_from(["yes", "no", "", "maybe"]),
            "days_from_baseline": numberish,
        },
    )
)
def test_the_assessment_form_accepts_only_values_within_the_rules(data):
    form = AssessmentForm(data=data, timepoint=0)
    if form.is_valid():
        cleaned = form.cleaned_data
        assert cleaned.get("mmt8_total") is None or 0 <= cleaned["mmt8_total"] <= 150
        assert cleaned.get("ck") is None or cleaned["ck"] >= 0
        duration = cleaned.get("disease_duration_months")
        assert duration is None or duration >= 0
    else:
        assert all(messages for messages in form.errors.values())


@PROPERTY_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "pseudonym": st.text(max_size=20),
            "sex": st.sampled_from(["F", "M", "U", "", "Z"]),
            "age_at_mri": numberish,
            "subtype": st.sampled_from(["DM", "IBM", "", "nope"]),
            "antibodies": st.lists(st.sampled_from(["Mi-2", "Jo-1", "HMGCR", "bogus"])),
            "seronegative": st.sampled_from(["on", "", "true"]),
        },
    )
)
def test_the_patient_form_accepts_only_values_within_the_rules(cohort_with_patient, data):
    form = PatientForm(data=data, cohort=cohort_with_patient)
    if form.is_valid():
        cleaned = form.cleaned_data
        assert cleaned.get("age_at_mri") is None or 0 <= cleaned["age_at_mri"] <= 120
        assert not (cleaned.get("seronegative") and cleaned.get("antibodies"))
    else:
        assert all(messages for messages in form.errors.values())


@pytest.fixture
def reader_and_read(db):
    from scoring.models import ScoringProtocol

    reader = factories.user_with_role("radiologist", username="property-reader")
    study = factories.StudyFactory()
    read = read_assign(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=reader,
        actor=None,
    )
    return reader, read


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**10), st.text(max_size=8), numberish),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY_SETTINGS
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "version": st.one_of(st.integers(-3, 3), numberish),
                "changes": st.lists(
                    st.fixed_dictionaries(
                        {
                            "muscle": muscles,
                            "side": sides,
                            "sequence": sequences,
                            "value": st.sampled_from(["0", "1", "2", "NA", "3", "", "n"]),
                        }
                    ),
                    max_size=3,
                ),
            }
        ),
    )
)
def test_any_grade_save_body_gets_a_clear_answer_and_never_a_server_error(reader_and_read, body):
    reader, read = reader_and_read
    api = APIClient()
    api.force_authenticate(reader)
    with transaction.atomic():
        response = api.post(
            f"/reading/api/reads/{read.token}/grades/",
            data=json.dumps(body),
            content_type="application/json",
        )
        assert response.status_code in (200, 400, 409), response.content
        if response.status_code != 200:
            assert response.json(), "an error answer says what is wrong"
        transaction.set_rollback(True)
