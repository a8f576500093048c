"""The score-sheet import applies the forms' rules and refuses malformed CSV with the row and the
reason, importing nothing (issue 22, item 3), with the hostile inputs of the security probe."""

from __future__ import annotations

import pytest

from cohorts.models import AuditEvent, ClinicalAssessment, Patient
from cohorts.services import patient_create
from sheets import files as sheet_files
from sheets import grades as grade_import
from sheets import patients as patient_import
from sheets.files import ImportRefused
from sheets.imports import score_sheet_import
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(cohort, content: bytes) -> list[tuple[int, str, str]]:
    before = (
        Patient.objects.count(),
        ClinicalAssessment.objects.count(),
        AuditEvent.objects.count(),
    )
    with pytest.raises(ImportRefused) as caught:
        score_sheet_import(cohort=cohort, content=content, filename="sheet.csv", actor=None)
    after = (
        Patient.objects.count(),
        ClinicalAssessment.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before, "a refused sheet wrote something"
    return [(p.row, p.column, p.reason) for p in caught.value.problems]


@pytest.mark.parametrize(
    "pseudonym", ["<script>alert(1)</script>", "NL\r\nX-Injected: 1", "IIM 0004", "-IIM", "x" * 41]
)
def test_a_pseudonym_the_patient_form_refuses_is_refused_on_its_row(cohort, pseudonym):
    content = f'pseudonym,sex\nIIM-0001,F\n"{pseudonym}",M\n'.encode()
    problems = _refused(cohort, content)
    # A quoted cell holding a line break ends on line 4, yet the record starts on line 3.
    assert [(column, reason) for _row, column, reason in problems] == [
        ("pseudonym", patient_import.PSEUDONYM_INVALID)
    ]


def test_an_unbalanced_quote_is_refused_instead_of_swallowing_the_next_lines(cohort):
    # Before: one patient named 'IIM-0001,F\n' (the quote ran to the end of the file).
    problems = _refused(cohort, b'pseudonym,sex\n"IIM-0001,F\nIIM-0002,M\n')
    assert len(problems) == 1
    row, column, reason = problems[0]
    assert row == 2 and column == ""
    assert reason.startswith("malformed CSV")
    assert not Patient.objects.filter(cohort=cohort).exists()


def test_a_cell_of_two_hundred_thousand_characters_is_refused_with_its_row(cohort):
    content = b"pseudonym,sex\nIIM-0001,F\nIIM-0002," + b"M" * 200_000 + b"\n"
    assert _refused(cohort, content) == [(3, "", sheet_files.CELL_TOO_LONG)]


def test_a_cell_longer_than_a_sheet_needs_is_refused_below_the_csv_module_limit(cohort):
    content = b"pseudonym,immunosuppression\nIIM-0001," + b"a" * 2001 + b"\n"
    assert _refused(cohort, content) == [(2, "", sheet_files.CELL_TOO_LONG)]


def test_a_nul_byte_in_a_csv_is_refused_not_a_crash(cohort):
    problems = _refused(cohort, b"pseudonym,sex\nIIM-0001,F\x00\n")
    assert [row for row, _c, _r in problems] == [2]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("days_from_baseline", "999999999999999999", patient_import.DAYS_INVALID),
        ("days_from_baseline", "-5", patient_import.DAYS_INVALID),
        ("days_from_baseline", "١٢", patient_import.DAYS_INVALID),
        ("ck", "2000000", patient_import.CK_NEGATIVE),
        ("ck_uln", "0", patient_import.CK_ULN_INVALID),
        ("mmt8", "1_50", patient_import.MMT8_RANGE),
        ("age", "²", patient_import.AGE_RANGE),
        ("disease_duration_months", "1e3", patient_import.DURATION_INVALID),
    ],
)
def test_values_outside_the_forms_ranges_are_refused(cohort, column, value, reason):
    content = f"pseudonym,timepoint,{column}\nIIM-0001,1,{value}\n".encode()
    assert _refused(cohort, content) == [(2, column, reason)]


@pytest.mark.parametrize("timepoint", ["²", "١", "99999999999999999999", "1000"])
def test_a_timepoint_that_is_no_small_whole_number_is_refused(cohort, timepoint):
    content = f"pseudonym,timepoint,ck\nIIM-0001,{timepoint},100\n".encode()
    assert _refused(cohort, content) == [(2, "timepoint", patient_import.TIMEPOINT_INVALID)]


def test_the_forms_cross_field_rules_are_named_on_their_row(cohort):
    from cohorts.services import SERONEGATIVE_WITH_ANTIBODY, TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION

    content = (
        b"pseudonym,antibodies,seronegative,timepoint,treatment_naive,immunosuppression\n"
        b"IIM-0001,Jo-1,true,0,,\n"
        b"IIM-0002,,,0,true,Methotrexate\n"
    )
    assert _refused(cohort, content) == [
        (2, "seronegative", SERONEGATIVE_WITH_ANTIBODY),
        (3, "treatment_naive", TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION),
    ]


def test_a_grades_sheet_with_a_non_ascii_digit_timepoint_is_refused(cohort, radiologist):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    header = "pseudonym,timepoint,reader,read_status,muscle,side,sequence,grade"
    content = f"{header}\nIIM-0001,²,radiologist,in_progress,gracilis,L,STIR,1\n".encode()
    with pytest.raises(ImportRefused) as caught:
        score_sheet_import(
            cohort=cohort, content=content, filename="g.csv", actor=None, protocol="thigh-only"
        )
    assert [(p.row, p.column, p.reason) for p in caught.value.problems] == [
        (2, "timepoint", grade_import.TIMEPOINT_INVALID)
    ]


def test_a_grades_sheet_with_a_study_that_is_no_uid_is_refused(cohort, radiologist):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    header = "pseudonym,timepoint,study,reader,read_status,muscle,side,sequence,grade"
    study = "1." + "2" * 80
    content = f"{header}\nIIM-0001,0,{study},radiologist,in_progress,gracilis,L,STIR,1\n".encode()
    with pytest.raises(ImportRefused) as caught:
        score_sheet_import(
            cohort=cohort, content=content, filename="g.csv", actor=None, protocol="thigh-only"
        )
    assert [(p.row, p.column, p.reason) for p in caught.value.problems] == [
        (2, "study", grade_import.STUDY_UID_INVALID)
    ]


def test_a_good_sheet_is_still_imported(cohort):
    content = (
        b"pseudonym,sex,timepoint,days_from_baseline,ck\nIIM-0001,F,0,0,300\nIIM-0001,F,1,180,250\n"
    )
    summary = score_sheet_import(cohort=cohort, content=content, filename="p.csv", actor=None)
    assert summary.created["patients"] == 1
    assert sorted(
        ClinicalAssessment.objects.filter(patient__cohort=cohort).values_list(
            "timepoint", "days_from_baseline", "ck"
        )
    ) == [(0, 0, 300), (1, 180, 250)]


def test_every_path_that_creates_a_patient_refuses_a_bad_pseudonym(cohort):
    from django.core.exceptions import ValidationError

    from cohorts.services import PSEUDONYM_INVALID

    with pytest.raises(ValidationError) as refused:
        patient_create(cohort=cohort, actor=None, pseudonym="<script>alert(1)</script>")
    assert refused.value.message_dict == {"pseudonym": [PSEUDONYM_INVALID]}
    assert not Patient.objects.filter(cohort=cohort).exists()


def test_a_pseudonym_stored_before_the_rule_no_longer_breaks_the_patient_list(
    client, coordinator, cohort
):
    # Rows the old import created stay in the database: the list answers 200, escaped.
    factories.PatientFactory(cohort=cohort, pseudonym="<script>alert(1)</script>")
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    client.force_login(coordinator)
    response = client.get(f"/cohorts/{cohort.slug}/patients/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'href="/cohorts/{cohort.slug}/patients/IIM-0001/"' in html
