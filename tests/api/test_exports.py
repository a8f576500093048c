"""The statisticians' exports: stable columns, every format with the same values, streaming."""

from __future__ import annotations

import io
import json
import math

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
from django.http import StreamingHttpResponse

from exports import formats as export_formats
from exports.codebook import GRADE_SPSS_CODES, atlas_vocabulary, export_variables
from exports.formats import ExportTable, csv_chunks, json_chunks
from exports.grades import GradesExport
from tests.api.conftest import body

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/cohorts/scored/export/{name}/"
GRADES_COLUMNS = [
    "pseudonym",
    "subtype",
    "site",
    "timepoint",
    "study",
    "series",
    "reader",
    "read_status",
    "read_kind",
    "region",
    "group",
    "muscle",
    "side",
    "sequence",
    "grade",
    "scale",
]
MUSCLE_SCORES_COLUMNS = ["pseudonym", "subtype", "timepoint", "region", "group", "muscle", "score"]
GROUP_SCORES_COLUMNS = [
    "pseudonym",
    "site",
    "timepoint",
    "subtype",
    "sex",
    "age_at_mri",
    "disease_duration_months",
    "ck",
    "mmt8_total",
    "treatment_naive",
    "score_source",
    "n_reads",
    "group_shoulder_girdle",
    "group_rotator_cuff",
    "group_upper_arm_flexors",
    "group_upper_arm_extensors",
    "group_lower_arm_flexors",
    "group_lower_arm_extensors",
    "group_chest_wall",
    "group_extrinsic_back",
    "group_intrinsic_back",
    "group_gluteal",
    "group_ventral_thigh",
    "group_medial_thigh",
    "group_dorsal_thigh",
    "group_lower_leg_extensors",
    "group_lower_leg_flexors",
    "region_upper_extremity",
    "region_trunk",
    "region_pelvis",
    "region_thigh",
    "region_lower_leg",
    "total",
    "total_pct",
]
PATIENTS_COLUMNS = [
    "pseudonym",
    "site",
    "timepoint",
    "days_from_baseline",
    "subtype",
    "sex",
    "age_at_mri",
    "classification_criteria",
    "antibodies",
    "seronegative",
    "biopsy_done",
    "emg_myopathic",
    "disease_duration_months",
    "ck",
    "ck_uln",
    "mmt8_total",
    "treatment_naive",
    "immunosuppression",
]
READ_SCORES_COLUMNS = [
    "pseudonym",
    "subtype",
    "site",
    "timepoint",
    "study",
    "read_id",
    "reader",
    "read_kind",
    "scope",
    "level",
    "level_unit",
    "score",
    "total_pct",
    "n_graded",
]
CODEBOOK_COLUMNS = ["export", "variable", "type", "unit", "allowed_values", "meaning"]
COLUMNS = {
    "grades": GRADES_COLUMNS,
    "read-scores": READ_SCORES_COLUMNS,
    "muscle-scores": MUSCLE_SCORES_COLUMNS,
    "group-scores": GROUP_SCORES_COLUMNS,
    "patients": PATIENTS_COLUMNS,
    "codebook": CODEBOOK_COLUMNS,
}


def get_csv(client, name: str, query: str = "") -> pd.DataFrame:
    response = client.get(EXPORT.format(name=name) + query)
    assert response.status_code == 200, response.content
    return pd.read_csv(io.BytesIO(body(response)), dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", list(COLUMNS))
def test_export_columns_are_exactly_the_documented_ones(scored_cohort, statistician_client, name):
    assert list(get_csv(statistician_client, name).columns) == COLUMNS[name]


def test_codebook_covers_every_column_of_every_export(scored_cohort, statistician_client):
    codebook = get_csv(statistician_client, "codebook")
    assert (codebook["type"] != "").all() and (codebook["meaning"] != "").all()
    for name in COLUMNS:
        header = list(get_csv(statistician_client, name).columns)
        documented = codebook.loc[codebook["export"] == name, "variable"].tolist()
        assert documented == header, name


def _canonical(value, variable, record: dict) -> str:
    """A cell of any reader as the CSV's text."""
    if value is None and record.get(variable.name + "_not_assessable"):
        return variable.not_assessable  # Parquet: null grade, flagged not assessable
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if variable.sav_codes() and isinstance(value, float):
        return {float(code): text for text, code in variable.sav_codes().items()}[value]
    if variable.type == "boolean":
        return "true" if value else "false"
    if variable.type == "integer":
        return str(int(value))
    if variable.type == "number":
        return repr(float(value))
    return str(value)


def _rows(frame_records: list[dict], variables, *, digits: int = 17) -> list[list[str]]:
    """The records as CSV text; numbers to `digits` significant digits (XLSX files hold 16:
    openpyxl writes floats with %.16g, Excel reads 15)."""

    def cell(record: dict, v) -> str:
        value = record[v.name]
        if v.type == "number" and isinstance(value, float | int) and not math.isnan(value):
            value = float(f"{value:.{digits}g}")
        return _canonical(value, v, record)

    return [[cell(record, v) for v in variables] for record in frame_records]


@pytest.mark.parametrize("name", list(COLUMNS))
def test_every_format_opens_in_its_reader_with_the_same_values(
    scored_cohort, statistician_client, name
):
    variables = export_variables(name, atlas_vocabulary())
    reference = get_csv(statistician_client, name).values.tolist()
    assert reference, "the export is empty"

    def fetch(fmt: str) -> bytes:
        response = statistician_client.get(EXPORT.format(name=name) + f"?format={fmt}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith(export_formats.MEDIA_TYPES[fmt])
        assert f'{name}.{fmt}"' in response["Content-Disposition"]
        return body(response)

    as_json = json.loads(fetch("json"))
    assert _rows(as_json, variables) == reference

    sheet = openpyxl.load_workbook(io.BytesIO(fetch("xlsx"))).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == COLUMNS[name]
    records = [dict(zip(COLUMNS[name], row, strict=True)) for row in values[1:]]
    assert _rows(records, variables, digits=15) == _rows(as_json, variables, digits=15)

    parquet = pq.read_table(io.BytesIO(fetch("parquet")))
    flags = [f"{v.name}_not_assessable" for v in variables if v.not_assessable]
    assert [c for c in parquet.column_names if c not in flags] == COLUMNS[name]
    assert _rows(parquet.to_pylist(), variables) == reference

    with open_sav(fetch("sav")) as (frame, meta):
        assert list(frame.columns) == COLUMNS[name]
        for v in variables:  # numbered from the data: the label is the value
            if v.sav_coded:
                frame[v.name] = frame[v.name].map(meta.variable_value_labels[v.name])
        records = frame.to_dict(orient="records")
        assert _rows(records, variables) == reference
        assert meta.column_labels[0] == variables[0].meaning


class open_sav:  # a context manager used like a function
    def __init__(self, content: bytes) -> None:
        self.content = content

    def __enter__(self):
        import tempfile

        self.file = tempfile.NamedTemporaryFile(suffix=".sav")
        self.file.write(self.content)
        self.file.flush()
        return pyreadstat.read_sav(self.file.name, user_missing=True)

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def test_spss_file_carries_value_labels_and_declares_na_missing(scored_cohort, statistician_client):
    response = statistician_client.get(EXPORT.format(name="grades") + "?format=sav")
    with open_sav(body(response)) as (frame, meta):
        assert meta.variable_value_labels["grade"][9.0].startswith("NA")
        assert meta.variable_value_labels["grade"][2.0].startswith("2")
        assert meta.variable_value_labels["subtype"][2.0] == "DM – Dermatomyositis"
        assert meta.missing_ranges["grade"] == [{"lo": 9.0, "hi": 9.0}]
        assert set(frame["grade"].dropna()) <= {0.0, 1.0, 2.0, 9.0}
        assert meta.variable_measure["grade"] == "ordinal"


def test_grades_csv_and_json_are_streamed(scored_cohort, statistician_client):
    for fmt in ("csv", "json"):
        response = statistician_client.get(EXPORT.format(name="grades") + f"?format={fmt}")
        assert isinstance(response, StreamingHttpResponse), fmt


def test_grades_export_only_submitted_reads_unless_asked(scored_cohort, statistician_client):
    submitted = get_csv(statistician_client, "grades")
    assert len(submitted) == 4 * 240
    assert set(submitted["read_status"]) == {"submitted"}
    everything = get_csv(statistician_client, "grades", "?status=all")
    assert len(everything) == 4 * 240 + 40
    assert set(everything.loc[everything["pseudonym"] == "IIM-0003", "read_status"]) == {
        "in_progress"
    }
    bad = statistician_client.get(EXPORT.format(name="grades") + "?status=maybe")
    assert bad.status_code == 400 and "status" in bad.json()


def test_every_grade_maps_to_its_study_and_series(scored_cohort, statistician_client):
    grades = get_csv(statistician_client, "grades")
    pairs = set(zip(grades["study"], grades["sequence"], grades["series"], strict=True))
    assert pairs == {
        ("2.25.90001", "STIR", "2.25.90001.1"),
        ("2.25.90001", "T1", "2.25.90001.2"),
        ("2.25.90002", "STIR", "2.25.90002.1"),
        ("2.25.90002", "T1", "2.25.90002.2"),
    }
    first = grades.iloc[0].to_dict()
    assert first == {
        "pseudonym": "IIM-0001",
        "subtype": "DM",
        "site": "ukd",
        "timepoint": "0",
        "study": "2.25.90001",
        "series": "2.25.90001.1",
        "reader": "consensus_reader",
        "read_status": "submitted",
        "read_kind": "consensus",
        "region": "upper-extremity",
        "group": "shoulder-girdle",
        "muscle": "deltoid",
        "side": "L",
        "sequence": "STIR",
        "grade": "0",  # seed 2, deltoid (index 0), left (+1), STIR (+0): 3 % 3
        "scale": "iim-0-2",
    }
    kinds = grades.drop_duplicates(["pseudonym", "reader"])[["pseudonym", "reader", "read_kind"]]
    assert kinds.values.tolist() == [
        ["IIM-0001", "consensus_reader", "consensus"],
        ["IIM-0001", "other_radiologist", "second"],
        ["IIM-0001", "radiologist", "primary"],
        ["IIM-0002", "radiologist", "primary"],
    ]


def test_muscle_scores_use_the_consensus_read_else_the_reader_mean(
    scored_cohort, statistician_client
):
    scores = get_csv(statistician_client, "muscle-scores")
    deltoid = scores[scores["muscle"] == "deltoid"].set_index("pseudonym")["score"].to_dict()
    # Deltoid grades by read seed s: side R: STIR s%3, T1 (s+2)%3; side L: STIR (s+1)%3,
    # T1 (s+3)%3. Unified = max per side, score = mean of the sides.
    # IIM-0001 has a consensus read (s=2): R max(2,1)=2, L max(0,2)=2 -> 2.0 (the readers'
    # mean would be 1.5). IIM-0002 (s=1): R max(1,0)=1, L max(2,1)=2 -> 1.5.
    assert deltoid == {"IIM-0001": "2.0", "IIM-0002": "1.5"}
    supinator = scores[scores["muscle"] == "supinator"]["score"].tolist()
    assert supinator == ["", ""]  # every cell NA: no score
    assert len(scores) == 2 * 60


def test_group_scores_are_one_row_per_visit_with_clinical_columns(
    scored_cohort, statistician_client
):
    groups = get_csv(statistician_client, "group-scores").set_index("pseudonym")
    assert list(groups.index) == ["IIM-0001", "IIM-0002"]
    first = groups.loc["IIM-0001"]
    assert (first["score_source"], first["n_reads"]) == ("consensus", "1")
    assert (first["ck"], first["mmt8_total"], first["treatment_naive"]) == ("2400", "118", "true")
    assert first["disease_duration_months"] == "4.5"
    assert groups.loc["IIM-0002", "score_source"] == "reader mean"
    muscles = get_csv(statistician_client, "muscle-scores")
    shoulder = muscles[
        (muscles["pseudonym"] == "IIM-0002") & (muscles["group"] == "shoulder-girdle")
    ]
    expected = sum(float(s) for s in shoulder["score"]) / len(shoulder)
    assert float(groups.loc["IIM-0002", "group_shoulder_girdle"]) == pytest.approx(expected)
    total = sum(float(s) for s in muscles[muscles["pseudonym"] == "IIM-0002"]["score"] if s)
    assert float(groups.loc["IIM-0002", "total"]) == pytest.approx(total)


def test_patients_export_has_one_row_per_patient_and_timepoint(scored_cohort, statistician_client):
    patients = get_csv(statistician_client, "patients")
    assert patients["pseudonym"].tolist() == ["IIM-0001", "IIM-0002", "IIM-0003", "IIM-0004"]
    first = patients.iloc[0]
    assert (first["antibodies"], first["seronegative"], first["ck"]) == ("Mi-2", "false", "2400")
    no_visit = patients.iloc[3]
    assert (no_visit["timepoint"], no_visit["ck"], no_visit["mmt8_total"]) == ("", "", "")


def test_fast_grades_text_equals_the_generic_writers(scored_cohort):
    export = GradesExport(cohort=scored_cohort, status="all", atlas=atlas_vocabulary())
    fast = ExportTable("grades", export.variables, export.rows, export.csv_text, export.json_text)
    generic = ExportTable("grades", export.variables, export.rows)
    assert "".join(csv_chunks(fast)) == "".join(csv_chunks(generic))
    assert "".join(json_chunks(fast)) == "".join(json_chunks(generic))


def test_long_xlsx_continues_on_numbered_sheets(scored_cohort, statistician_client, monkeypatch):
    monkeypatch.setattr(export_formats, "XLSX_ROWS_PER_SHEET", 300)
    response = statistician_client.get(EXPORT.format(name="grades") + "?format=xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(body(response)), read_only=True)
    assert workbook.sheetnames == ["grades", "grades (2)", "grades (3)", "grades (4)", "codebook"]
    rows = sum(len(list(ws.iter_rows(values_only=True))) - 1 for ws in workbook.worksheets[:4])
    assert rows == 4 * 240


def test_errors_are_json_whatever_format_was_asked(scored_cohort, statistician_client):
    missing = statistician_client.get("/api/v1/cohorts/nope/export/grades/?format=parquet")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json() == {"detail": "No such cohort."}
    unknown = statistician_client.get(EXPORT.format(name="grades") + "?format=dta")
    assert unknown.status_code == 400 and "format" in unknown.json()


def test_score_scope_selects_oedema_or_fat_subscores(scored_cohort, statistician_client):
    stir = get_csv(statistician_client, "muscle-scores", "?scope=stir")
    deltoid = stir[(stir["muscle"] == "deltoid") & (stir["pseudonym"] == "IIM-0002")]
    assert deltoid["score"].tolist() == ["1.5"]  # STIR only, seed 1: R 1, L 2
    assert (
        statistician_client.get(EXPORT.format(name="muscle-scores") + "?scope=x").status_code == 400
    )


def test_analytics_endpoint_gives_latest_results_with_provenance(
    scored_cohort, statistician_client
):
    response = statistician_client.get("/api/v1/cohorts/scored/analytics/")
    assert response.status_code == 200
    payload = response.json()
    assert payload["cohort"] == "scored"
    names = {r["analysis"] for r in payload["results"]}
    assert {"descriptives", "subtype_comparison", "clinical_correlation"} <= names
    for result in payload["results"]:
        assert result["status"] == "done"
        assert result["parameters"]["correction"] == "holm"
        assert len(result["input_fingerprint"]) == 64
        assert result["code_version"] and result["computed_at"]
    one = statistician_client.get("/api/v1/cohorts/scored/analytics/?analysis=descriptives")
    assert [r["analysis"] for r in one.json()["results"]] == ["descriptives"]


def test_analytics_endpoint_gives_every_patients_scores_per_scope(
    scored_cohort, statistician_client
):
    response = statistician_client.get("/api/v1/cohorts/scored/analytics/?analysis=patient_scores")
    (result,) = response.json()["results"]
    scopes = result["result"]
    assert set(scopes) == {"unified", "stir", "t1"}
    # Patients with a submitted read; IIM-0003's read is in progress, IIM-0004 has no imaging.
    for rows in scopes.values():
        assert [row["pseudonym"] for row in rows] == ["IIM-0001", "IIM-0002"]
    muscles = get_csv(statistician_client, "muscle-scores")
    total = sum(float(s) for s in muscles[muscles["pseudonym"] == "IIM-0002"]["score"] if s)
    assert scopes["unified"][1]["total"] == pytest.approx(total)
    assert scopes["unified"][0]["subtype"] == "DM" and scopes["unified"][0]["mmt8"] == 118


def test_grade_codes_in_spss_are_the_codebooks():
    # A grade's SPSS code is its number on any scale; not assessable is the missing code 9.
    assert dict(GRADE_SPSS_CODES) == {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "NA": 9}


def test_the_patient_profile_combines_readers_as_the_exports_do(scored_cohort, client, clinician):
    """The same rule everywhere: IIM-0001's consensus read alone (deltoid 2.0, where the
    readers' mean would be 1.5), IIM-0002's readers' mean (1.5); see the muscle-scores test."""
    import json

    from django.urls import reverse

    client.force_login(clinician)
    for pseudonym, deltoid in (("IIM-0001", 2.0), ("IIM-0002", 1.5)):
        url = reverse("analytics:patient-profile", args=[scored_cohort.slug, pseudonym])
        timepoint = client.get(url).context["timepoints"][0]
        bars = json.loads(timepoint["figure"])["data"][0]
        assert dict(zip(bars["y"], bars["x"], strict=True))["Deltoid"] == deltoid
