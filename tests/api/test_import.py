"""Import of existing score sheets: every bad row named, nothing written unless all is well,
grades audited cell by cell, and export → import → export giving the same files."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from cohorts.models import AuditEvent, ImagingStudy
from scoring.models import Grade, Read, ScoringProtocol
from sheets import grades as grade_import
from sheets import patients as patient_import
from sheets.files import ImportRefused
from sheets.imports import score_sheet_import
from tests import factories
from tests.api.conftest import (
    add_studies,
    body,
    build_scored_cohort,
    new_cohort,
    token_client,
    whole_read_cells,
)

pytestmark = pytest.mark.django_db

GRADE_HEADER = [
    "pseudonym",
    "timepoint",
    "reader",
    "read_status",
    "muscle",
    "side",
    "sequence",
    "grade",
]


def sheet(header: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def refused(cohort, content: bytes, **options) -> list[tuple[int, str, str]]:
    before = (Grade.objects.count(), Read.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ImportRefused) as caught:
        score_sheet_import(
            cohort=cohort, content=content, filename="sheet.csv", actor=None, **options
        )
    assert (Grade.objects.count(), Read.objects.count(), AuditEvent.objects.count()) == before
    return [(p.row, p.column, p.reason) for p in caught.value.problems]


def full_read_rows(pseudonym: str, reader: str, *, seed: int = 0) -> list[list[object]]:
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    return [
        [pseudonym, 0, reader, "submitted", muscle, side, sequence, value]
        for (muscle, side, sequence), value in whole_read_cells(protocol, seed).items()
    ]


# --- validation: each rule names the row, the column and the reason ---------------------------


def test_unknown_muscle_grade_and_pseudonym_are_each_reported(scored_cohort):
    rows = full_read_rows("IIM-0004", "radiologist")
    rows[0][4] = "bicepz"  # row 2
    rows[5][7] = "3"  # row 7
    rows[9][0] = "IIM-9999"  # row 11
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows))
    assert (2, "muscle", grade_import.UNKNOWN_MUSCLE) in problems
    sequence = rows[5][6]
    reason = f"grade must be 0, 1, 2 or NA ({sequence} is graded on the IIM 0–2 scale)"
    assert (7, "grade", reason) in problems
    assert (11, "pseudonym", grade_import.UNKNOWN_PSEUDONYM) in problems


def test_duplicate_cell_names_both_rows(scored_cohort):
    rows = full_read_rows("IIM-0004", "radiologist")
    rows.append(list(rows[3]))  # the cell of row 5 again, as row 242
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows))
    assert problems == [(242, "muscle", grade_import.DUPLICATE_CELL.format(row=5))]


def test_reader_must_be_a_known_radiologist(scored_cohort):
    rows = full_read_rows("IIM-0004", "statistician")
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows))
    assert problems[0] == (2, "reader", grade_import.READER_NOT_RADIOLOGIST)
    assert len(problems) == len(rows)
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows), reader="nobody-here")
    assert problems[0] == (2, "reader", grade_import.UNKNOWN_READER)


def test_a_submitted_read_must_be_complete(scored_cohort):
    rows = full_read_rows("IIM-0004", "radiologist")[:-3]
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows))
    assert len(problems) == 1
    row, column, reason = problems[0]
    assert (row, column) == (2, "muscle")
    assert reason.startswith("the read is submitted but 3 of 240 cells are missing")


def test_a_read_with_grades_is_never_overwritten(scored_cohort):
    rows = full_read_rows("IIM-0002", "radiologist")
    problems = refused(scored_cohort, sheet(GRADE_HEADER, rows))
    label = Read.objects.get(study__patient__pseudonym="IIM-0002").blind_label
    assert problems == [(2, "reader", grade_import.READ_HAS_GRADES.format(label=label))]


def test_study_and_series_must_belong_to_the_row(scored_cohort):
    header = [*GRADE_HEADER, "study", "series"]
    rows = [[*r, "2.25.90001", ""] for r in full_read_rows("IIM-0002", "other_radiologist")]
    rows[0][9] = "2.25.90002.2"  # row 2: the T1 series given for a STIR grade
    rows[0][8] = "2.25.90002"
    problems = refused(scored_cohort, sheet(header, rows))
    assert (2, "series", grade_import.SERIES_UNKNOWN.format(sequence="STIR")) in problems
    assert (
        3,
        "study",
        grade_import.STUDY_OTHER_PATIENT.format(pseudonym="IIM-0001", timepoint=0),
    ) in problems


def test_patient_rules_mmt8_range_negative_ck_duplicates(scored_cohort):
    header = ["pseudonym", "timepoint", "subtype", "ck", "mmt8"]
    rows = [
        ["IIM-0001", 0, "DM", 1200, 151],
        ["IIM-0002", 0, "IBM", -5, 120],
        ["IIM-0003", 0, "XYZ", 300, 100],
        ["IIM-0003", 0, "XYZ", 300, 100],
        ["IIM-0004", "", "ASYS", 100, ""],
    ]
    problems = refused(scored_cohort, sheet(header, rows))
    assert (2, "mmt8", patient_import.MMT8_RANGE) in problems
    assert (3, "ck", patient_import.CK_NEGATIVE) in problems
    assert (
        4,
        "subtype",
        patient_import.CHOICE_INVALID.format(
            column="subtype", allowed="IBM, DM, PM, ASYS, IMNM, other"
        ),
    ) in problems
    assert (6, "timepoint", patient_import.TIMEPOINT_NEEDED) in problems


def test_duplicate_visit_in_a_patients_sheet(scored_cohort):
    header = ["pseudonym", "timepoint", "ck"]
    problems = refused(scored_cohort, sheet(header, [["IIM-0001", 0, 1], ["IIM-0001", 0, 2]]))
    assert problems == [(3, "timepoint", patient_import.DUPLICATE_VISIT.format(row=2))]


def test_unknown_columns_and_unreadable_files_are_refused(scored_cohort):
    problems = refused(scored_cohort, sheet([*GRADE_HEADER, "gradee"], []))
    assert problems == [(1, "gradee", "unknown column(s): gradee")]
    problems = refused(scored_cohort, b"\xff\xfe\x00garbage")
    assert problems == [(0, "", "The CSV file is not UTF-8 text.")]


# --- writing -----------------------------------------------------------------------------------


def test_legacy_sheet_without_images_creates_study_read_and_audited_grades(
    scored_cohort, coordinator
):
    rows = full_read_rows("IIM-0004", "")
    summary = score_sheet_import(
        cohort=scored_cohort,
        content=sheet(GRADE_HEADER, rows),
        filename="legacy.csv",
        actor=coordinator,
        reader="other_radiologist",
    )
    assert summary.created == {"reads": 1, "grades": 240, "studies": 1}
    read = Read.objects.get(study__patient__pseudonym="IIM-0004")
    assert (read.status, read.reader.username, read.kind) == (
        "submitted",
        "other_radiologist",
        "primary",
    )
    assert read.study.description == grade_import.IMPORTED_STUDY
    events = AuditEvent.objects.filter(
        action="grade.set",
        target_type="scoring.grade",
        target_id__in=[str(pk) for pk in read.grades.values_list("pk", flat=True)],
    )
    assert events.count() == 240
    assert set(events.values_list("reason", "actor__username")) == {
        ("imported from legacy.csv", "coordinator")
    }


def test_xlsx_sheets_import_like_csv(scored_cohort):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(GRADE_HEADER)
    for row in full_read_rows("IIM-0004", "radiologist"):
        row[7] = row[7] if row[7] == "NA" else float(row[7])  # Excel stores numbers
        ws.append(row)
    content = io.BytesIO()
    workbook.save(content)
    summary = score_sheet_import(
        cohort=scored_cohort, content=content.getvalue(), filename="s.xlsx", actor=None
    )
    assert summary.created["grades"] == 240
    assert set(
        Grade.objects.filter(read__study__patient__pseudonym="IIM-0004").values_list(
            "value", flat=True
        )
    ) == {"0", "1", "2", "NA"}


def test_import_command_reports_each_problem_and_imports_nothing(scored_cohort, tmp_path):
    rows = full_read_rows("IIM-0004", "radiologist")
    rows[0][7] = "4"
    path = tmp_path / "sheet.csv"
    path.write_bytes(sheet(GRADE_HEADER, rows))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_scores", "--cohort", "scored", str(path), stderr=err)
    assert "row 2, column grade: grade must be 0, 1, 2 or NA (" in err.getvalue()
    rows[0][7] = "1"
    path.write_bytes(sheet(GRADE_HEADER, rows))
    out = io.StringIO()
    call_command(
        "import_scores",
        "--cohort",
        "scored",
        str(path),
        "--reader",
        "other_radiologist",
        stdout=out,
    )
    assert "Imported 240 grades rows into scored" in out.getvalue()
    assert (
        Read.objects.get(study__patient__pseudonym="IIM-0004").reader.username
        == "other_radiologist"
    )


class _Rollback(Exception):
    pass


def _export(client, slug: str, name: str, query: str = "") -> bytes:
    response = client.get(f"/api/v1/cohorts/{slug}/export/{name}/{query}")
    assert response.status_code == 200
    return body(response)


def test_export_import_export_round_trips_to_identical_files(readers, statistician, coordinator):
    client = token_client(statistician)
    # Export from one database state...
    with pytest.raises(_Rollback), transaction.atomic():
        original = build_scored_cohort(slug="original", readers=readers)
        original.memberships.create(user=statistician)
        exported = {
            "patients": _export(client, "original", "patients"),
            "grades": _export(client, "original", "grades", "?status=all"),
            "muscle-scores": _export(client, "original", "muscle-scores"),
            "group-scores": _export(client, "original", "group-scores"),
        }
        raise _Rollback
    assert ImagingStudy.objects.count() == 0
    # ...into a fresh cohort: the same patients, their images, then the grades.
    fresh = new_cohort("fresh")
    fresh.memberships.create(user=statistician)
    factories.SiteFactory(code="ukd", name="University Hospital D")
    score_sheet_import(
        cohort=fresh, content=exported["patients"], filename="p.csv", actor=coordinator
    )
    assert _export(client, "fresh", "patients") == exported["patients"]
    add_studies(fresh)
    score_sheet_import(
        cohort=fresh, content=exported["grades"], filename="g.csv", actor=coordinator
    )
    assert _export(client, "fresh", "grades", "?status=all") == exported["grades"]
    from analytics.recompute import cohort_analyses_recompute

    cohort_analyses_recompute(cohort_id=fresh.pk, force=True)
    assert _export(client, "fresh", "muscle-scores") == exported["muscle-scores"]
    assert _export(client, "fresh", "group-scores") == exported["group-scores"]


# --- the coordinator's upload page ----------------------------------------------------------------


@pytest.mark.urls("tests.api.urls")
def test_upload_page_lists_every_problem_and_imports_a_good_sheet(
    scored_cohort, coordinator, client
):
    client.force_login(coordinator)
    url = reverse("imports:score-sheet", args=["scored"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert (
        "'unsafe-inline'"
        not in page["Content-Security-Policy"].split("script-src", 1)[1].split(";")[0]
    )
    rows = full_read_rows("IIM-0004", "radiologist")
    rows[1][7] = "7"
    bad = client.post(url, {"sheet": _upload(sheet(GRADE_HEADER, rows))})
    assert bad.status_code == 200
    assert "Nothing was imported" in bad.content.decode()
    assert f"grade must be 0, 1, 2 or NA ({rows[1][6]} is graded on the IIM 0–2 scale)" in (
        bad.content.decode()
    )
    rows[1][7] = "2"
    good = client.post(url, {"sheet": _upload(sheet(GRADE_HEADER, rows))}, follow=True)
    assert "Imported 240 grades rows" in good.content.decode()
    assert Read.objects.filter(study__patient__pseudonym="IIM-0004").count() == 1


@pytest.mark.urls("tests.api.urls")
@pytest.mark.parametrize("role", ["statistician", "clinician", "radiologist"])
def test_only_coordinators_may_upload(scored_cohort, client, role, request):
    client.force_login(request.getfixturevalue(role))
    url = reverse("imports:score-sheet", args=["scored"])
    assert client.get(url).status_code == 403
    rows = full_read_rows("IIM-0004", "radiologist")
    assert client.post(url, {"sheet": _upload(sheet(GRADE_HEADER, rows))}).status_code == 403
    assert not Read.objects.filter(study__patient__pseudonym="IIM-0004").exists()


@pytest.mark.urls("tests.api.urls")
def test_coordinator_of_another_cohort_gets_404(scored_cohort, client):
    other = factories.user_with_role("coordinator", username="elsewhere", staff=True)
    client.force_login(other)
    assert client.get(reverse("imports:score-sheet", args=["scored"])).status_code == 404


def _upload(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("sheet.csv", content, content_type="text/csv")
