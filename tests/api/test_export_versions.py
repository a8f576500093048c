"""Every export carries the version of the data it holds (ETag, X-Dataset-Version, the file's
own metadata), and no cell a clinician typed can run as a spreadsheet formula."""

from __future__ import annotations

import io

import openpyxl
import pyarrow.parquet as pq
import pytest

from cohorts.models import ClinicalAssessment, Patient
from scoring.models import Grade, Read
from tests.api.conftest import body

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/cohorts/scored/export/{name}/"
FORMULA = "=cmd|' /C calc'!A0"


def _version(client, name: str, fmt: str = "csv") -> str:
    response = client.get(EXPORT.format(name=name) + f"?format={fmt}")
    assert response.status_code == 200
    body(response)
    assert response["ETag"] == f'"{response["X-Dataset-Version"]}-{fmt}"'
    return response["X-Dataset-Version"]


def test_an_unchanged_cohort_keeps_its_version_and_a_grade_change_moves_it(
    scored_cohort, statistician_client
):
    first = _version(statistician_client, "grades")
    assert _version(statistician_client, "grades") == first
    unchanged = statistician_client.get(
        EXPORT.format(name="grades"), HTTP_IF_NONE_MATCH=f'"{first}-csv"'
    )
    assert unchanged.status_code == 304
    read = Read.objects.filter(study__patient__cohort=scored_cohort, status="submitted").first()
    grade = Grade.objects.filter(read=read).first()
    Grade.objects.filter(pk=grade.pk).update(value="2" if grade.value != "2" else "1")
    Read.objects.filter(pk=read.pk).update(version=read.version + 1)  # what read_amend does
    assert _version(statistician_client, "grades") != first
    patient = Patient.objects.filter(cohort=scored_cohort).first()
    before = _version(statistician_client, "patients")
    Patient.objects.filter(pk=patient.pk).update(age_at_mri=(patient.age_at_mri or 40) + 1)
    assert _version(statistician_client, "patients") != before


def test_parquet_sav_and_xlsx_name_the_version_inside_the_file(scored_cohort, statistician_client):
    version = _version(statistician_client, "group-scores")
    response = statistician_client.get(EXPORT.format(name="group-scores") + "?format=parquet")
    metadata = pq.read_schema(io.BytesIO(body(response))).metadata
    assert metadata[b"dataset_version"] == version.encode()
    response = statistician_client.get(EXPORT.format(name="group-scores") + "?format=xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(body(response)))
    assert workbook.properties.identifier == version


def test_free_text_that_looks_like_a_formula_stays_text(scored_cohort, statistician_client):
    assessment = ClinicalAssessment.objects.filter(patient__cohort=scored_cohort).first()
    ClinicalAssessment.objects.filter(pk=assessment.pk).update(immunosuppression=[FORMULA])
    pseudonym = assessment.patient.pseudonym
    csv_text = body(statistician_client.get(EXPORT.format(name="patients"))).decode()
    line = next(row for row in csv_text.splitlines() if row.startswith(pseudonym + ","))
    assert f"'{FORMULA}" in line.replace('""', '"')
    assert f",{FORMULA}" not in line and f',"{FORMULA}' not in line
    response = statistician_client.get(EXPORT.format(name="patients") + "?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value == FORMULA]
    assert cells, "the text is kept as typed"
    assert all(c.data_type == "s" for c in cells)  # text, never a formula ("f")
