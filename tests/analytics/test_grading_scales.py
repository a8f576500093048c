"""A cohort graded on other ordinal scales than the paper's 0–2 (issue 23, items 1–3): T1 on the
modified Mercuri scale 0–5 (fat), STIR on an oedema scale 0–3, scored apart. Imported from a
sheet, graded through the reading API, analysed, exported (SAV value labels per scale) and
drawn on the dashboard. Expected values are worked out here from DESIGN.md's definitions with
exact fractions, and agreement with scikit-learn on the same grade pairs."""

from __future__ import annotations

import csv
import io
import tempfile
from fractions import Fraction

import pandas as pd
import pyreadstat
import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient
from sklearn.metrics import cohen_kappa_score

from analytics.beyond import cohort_beyond_recompute
from analytics.models import AnalysisResult
from analytics.recompute import cohort_analyses_recompute
from cohorts.models import AuditEvent
from scoring.models import CohortProtocol, Grade, Read, ScoringProtocol
from scoring.services import read_assign, read_record_complete
from sheets.files import ImportRefused
from sheets.imports import score_sheet_import
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = ["pseudonym", "timepoint", "reader", "read_status", "muscle", "side", "sequence", "grade"]
SUBTYPES = ["DM", "DM", "IBM", "IBM", "PM", "PM"]


@pytest.fixture
def thigh_mercuri(db) -> ScoringProtocol:
    """The thigh muscles, T1 on modified Mercuri 0–5, STIR on oedema 0–3; the severity score
    is the fat (T1) score, as the shipped whole-body-mercuri protocol has it."""
    protocol = ScoringProtocol.objects.create(
        name="Thigh fat and oedema",
        slug="thigh-mercuri",
        sequences=["STIR", "T1"],
        stir_scale="oedema-0-3",
        t1_scale="mercuri-modified-0-5",
        sequence_combine="T1",
    )
    protocol.muscles.set(ScoringProtocol.objects.get(slug="thigh-only").muscles.all())
    return protocol


def _muscles(protocol: ScoringProtocol) -> list[str]:
    return list(
        protocol.muscles.order_by("group__region__order", "group__order", "order").values_list(
            "slug", flat=True
        )
    )


def _grade(k: int, reader: int, i: int, side: str, sequence: str) -> str:
    """Patient k, reader 0 or 1, the i-th muscle: every grade of both scales occurs, and
    reader 1 disagrees by one step on some cells; one NA per read."""
    if (i, side) == (k % 13, "L"):
        return "NA"
    if sequence == "T1":
        return str(min(5, (i + k + (side == "R") + reader * (i % 3 == 0)) % 6))
    return str((i + k + reader * (i % 4 == 0)) % 4)


def _sheet(protocol: ScoringProtocol, patients: list, readers: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for k, patient in enumerate(patients):
        for r, reader in enumerate(readers):
            for i, muscle in enumerate(_muscles(protocol)):
                for side in "LR":
                    for sequence in ("STIR", "T1"):
                        value = _grade(k, r, i, side, sequence)
                        row = [patient.pseudonym, 0, reader, "submitted", muscle, side]
                        writer.writerow([*row, sequence, value])
    return out.getvalue().encode()


def _exact_scores(protocol: ScoringProtocol, k: int, sequence: str, readers: int = 2):
    """Patient k's muscle scores on one sequence's scale, readers combined (exact)."""
    scores = {}
    for i, muscle in enumerate(_muscles(protocol)):
        per_read = []
        for r in range(readers):
            sides = [_grade(k, r, i, side, sequence) for side in "LR"]
            known = [int(g) for g in sides if g != "NA"]
            per_read.append(Fraction(sum(known), len(known)))
        scores[muscle] = sum(per_read) / len(per_read)
    return scores


@pytest.fixture
def imported(cohort, thigh_mercuri):
    """Six patients, each read by two radiologists, imported from one sheet."""
    CohortProtocol.objects.create(cohort=cohort, protocol=thigh_mercuri)
    patients = []
    for k, subtype in enumerate(SUBTYPES):
        patient = factories.PatientFactory(cohort=cohort, subtype=subtype)
        factories.AssessmentFactory(patient=patient, mmt8_total=100 + 5 * k, ck=200 + 50 * k)
        patients.append(patient)
    readers = [factories.user_with_role("radiologist", username=f"reader-{n}") for n in (1, 2)]
    summary = score_sheet_import(
        cohort=cohort,
        content=_sheet(thigh_mercuri, patients, [r.username for r in readers]),
        filename="mercuri.csv",
        actor=None,
    )
    assert summary.created["reads"] == 12
    # The second radiologist of each study is the second read (double reading).
    for read in Read.objects.filter(reader=readers[1]):
        Read.objects.filter(pk=read.pk).update(kind=Read.Kind.SECOND)
    return patients


def test_a_protocol_never_takes_the_maximum_of_two_scales(thigh_mercuri):
    assert thigh_mercuri.scale_of("T1").max == 5 and thigh_mercuri.scale_of("STIR").max == 3
    with pytest.raises(IntegrityError, match="protocol_combines_one_scale"), transaction.atomic():
        ScoringProtocol.objects.filter(pk=thigh_mercuri.pk).update(sequence_combine="max")


def test_a_sheet_off_the_scale_is_refused_row_by_row_and_writes_nothing(cohort, thigh_mercuri):
    CohortProtocol.objects.create(cohort=cohort, protocol=thigh_mercuri)
    patient = factories.PatientFactory(cohort=cohort)
    factories.user_with_role("radiologist", username="reader-1")
    content = _sheet(thigh_mercuri, [patient], ["reader-1"]).decode().splitlines()
    rows = [line.split(",") for line in content]
    # Row 2 is rectus femoris L STIR: 4 is a Mercuri grade but not an oedema grade.
    assert rows[1][4:7] == ["rectus-femoris", "L", "STIR"]
    rows[1][7] = "4"
    rows[2][7] = "6"  # T1: beyond modified Mercuri's 5
    before = (Grade.objects.count(), Read.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ImportRefused) as refused:
        score_sheet_import(
            cohort=cohort,
            content="\n".join(",".join(r) for r in rows).encode(),
            filename="bad.csv",
            actor=None,
        )
    assert (Grade.objects.count(), Read.objects.count(), AuditEvent.objects.count()) == before
    problems = {(p.row, p.column): p.reason for p in refused.value.problems}
    assert problems[(2, "grade")] == (
        "grade must be 0, 1, 2, 3 or NA (STIR is graded on the Oedema 0–3 scale)"
    )
    assert problems[(3, "grade")] == (
        "grade must be 0, 1, 2, 3, 4, 5 or NA (T1 is graded on the Modified Mercuri 0–5 scale)"
    )


def test_the_reading_api_takes_grades_of_the_cells_scale_only(cohort, thigh_mercuri):
    reader = factories.user_with_role("radiologist", username="reader-1")
    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    read = read_assign(study=study, protocol=thigh_mercuri, reader=reader, actor=None)
    client = APIClient()
    client.force_authenticate(reader)
    url = reverse("scoring:api-grades", args=[read.token])

    def save(sequence: str, value: str, version: int):
        cell = {"muscle": "rectus-femoris", "side": "L", "sequence": sequence, "value": value}
        return client.post(url, {"version": version, "changes": [cell]}, format="json")

    refused = save("STIR", "4", 0)
    assert refused.status_code == 400
    assert "STIR is graded on the Oedema 0–3 scale: '4' is not a grade" in refused.content.decode()
    assert not Grade.objects.filter(read=read).exists()
    assert save("T1", "5", 0).status_code == 200
    assert save("STIR", "3", 1).status_code == 200
    assert dict(Grade.objects.filter(read=read).values_list("sequence", "value")) == {
        "T1": "5",
        "STIR": "3",
    }


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _patient_rows(client, cohort, scope: str) -> dict[str, dict]:
    response = client.get(f"/api/v1/cohorts/{cohort.slug}/analytics/?analysis=patient_scores")
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    return {row["pseudonym"]: row for row in result["result"][scope]}


def test_scores_on_each_scale_with_percent_of_its_maximum(imported, cohort, statistician):
    protocol = ScoringProtocol.objects.get(slug="thigh-mercuri")
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    client = _api(statistician)
    for scope, sequence, top in (("unified", "T1", 5), ("t1", "T1", 5), ("stir", "STIR", 3)):
        rows = _patient_rows(client, cohort, scope)
        for k, patient in enumerate(imported):
            muscle = _exact_scores(protocol, k, sequence)
            total = sum(muscle.values())
            row = rows[patient.pseudonym]
            assert row["total"] == float(total), (scope, k)
            # Every muscle is scored by at least one reader here: the maximum is top x 13.
            assert row["total_pct"] == float(100 * total / (top * len(muscle))), (scope, k)
            ventral = [muscle[m] for m in _muscles(protocol)[:5]]
            assert row["group_ventral-thigh"] == float(sum(ventral) / 5)

    profile = AnalysisResult.objects.get(
        cohort=cohort, analysis="group_profile", parameters_key__isnull=False
    ).result
    assert profile["unified"]["scale"] == {
        "key": "mercuri-modified-0-5",
        "name": "Modified Mercuri 0–5",
        "max": 5,
    }
    assert profile["stir"]["scale"]["max"] == 3

    # The exported muscle scores sum to the total beside them, on the scale's range.
    response = client.get(
        f"/api/v1/cohorts/{cohort.slug}/export/muscle-scores/?format=csv&scope=stir"
    )
    assert response.status_code == 200
    exported = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    first = exported[exported["pseudonym"] == imported[0].pseudonym]
    expected = _exact_scores(protocol, 0, "STIR")
    assert dict(zip(first["muscle"], first["score"], strict=True)) == {
        m: float(s) for m, s in expected.items()
    }
    assert exported["score"].between(0, 3).all() and exported["score"].max() > 2


def test_agreement_on_a_six_step_scale_matches_scikit_learn(imported, cohort):
    protocol = ScoringProtocol.objects.get(slug="thigh-mercuri")
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    assert cohort_beyond_recompute(cohort_id=cohort.pk, force=True) == "done"
    inter = AnalysisResult.objects.get(cohort=cohort, analysis="beyond_paper").result["agreement"][
        "inter"
    ]
    assert inter["status"] == "ok" and inter["scale"] == "Modified Mercuri 0–5"
    # The unified grade is the T1 grade: pair the two readers' T1 grades cell by cell.
    first, second = [], []
    for k in range(len(imported)):
        for i in range(len(_muscles(protocol))):
            for side in "LR":
                a, b = (_grade(k, r, i, side, "T1") for r in (0, 1))
                if "NA" not in (a, b):
                    first.append(int(a))
                    second.append(int(b))
    pooled = inter["pooled"]
    assert pooled["n_pairs"] == len(first)
    labels = list(range(6))  # the whole scale, whichever grades occur
    for weights, key in ((None, "kappa_unweighted"), ("linear", "kappa_linear")):
        reference = cohen_kappa_score(first, second, labels=labels, weights=weights)
        assert pooled[key] == pytest.approx(reference, rel=1e-12)
    reference = cohen_kappa_score(first, second, labels=labels, weights="quadratic")
    assert pooled["kappa_quadratic"] == pytest.approx(reference, rel=1e-12)


def test_sav_exports_label_each_scale(imported, cohort, statistician):
    client = _api(statistician)
    response = client.get(f"/api/v1/cohorts/{cohort.slug}/export/grades/?format=sav")
    assert response.status_code == 200
    with tempfile.NamedTemporaryFile(suffix=".sav") as file:
        file.write(b"".join(response.streaming_content))
        file.flush()
        frame, meta = pyreadstat.read_sav(file.name, user_missing=True)
    labels = meta.variable_value_labels["grade"]
    # One variable, two scales: each code names what it means on each scale that has it.
    assert labels[5.0] == "5 – Modified Mercuri 0–5: End stage (4)"
    assert labels[3.0] == "3 – Modified Mercuri 0–5: Moderate (2b); Oedema 0–3: Severe"
    assert labels[9.0] == "NA – Not assessable"
    assert meta.missing_ranges["grade"] == [{"lo": 9.0, "hi": 9.0}]
    scale_labels = meta.variable_value_labels["scale"]
    assert sorted(scale_labels.values()) == [
        "mercuri-modified-0-5 – Modified Mercuri 0–5",
        "oedema-0-3 – Oedema 0–3",
    ]
    sequence = frame["sequence"].map(meta.variable_value_labels["sequence"])
    stir = frame[sequence == "STIR"]
    assert {scale_labels[code] for code in stir["scale"]} == {"oedema-0-3 – Oedema 0–3"}
    graded = frame["grade"] != 9
    assert stir["grade"][graded].max() == 3 and frame["grade"][graded].max() == 5


def test_the_dashboard_heatmap_runs_to_the_scales_top_grade(imported, cohort, client):
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    clinician = factories.user_with_role("clinician", username="clinician", cohort=cohort)
    client.force_login(clinician)
    data = client.get(reverse("analytics:dashboard-data", args=[cohort.slug])).json()
    heatmap = data["figures"]["heatmap"]["data"][0]
    assert heatmap["zmax"] == 5
    assert max(v for row in heatmap["z"] for v in row if v is not None) > 2


def test_reads_on_different_scales_are_not_pooled(cohort, thigh_mercuri, statistician):
    """One study on the paper's 0–2 thigh protocol, one on Mercuri: refused, not averaged."""
    reader = factories.user_with_role("radiologist", username="reader-1")
    for protocol in (ScoringProtocol.objects.get(slug="thigh-only"), thigh_mercuri):
        study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
        factories.AssessmentFactory(patient=study.patient)
        read = read_assign(study=study, protocol=protocol, reader=reader, actor=None)
        cells = {
            (m, side, sequence): "1"
            for m in _muscles(protocol)
            for side in "LR"
            for sequence in ("STIR", "T1")
        }
        read_record_complete(read=read, cells=cells, actor=None, reason="test", submit=True)
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    client = _api(statistician)
    response = client.get(f"/api/v1/cohorts/{cohort.slug}/analytics/?analysis=group_profile")
    (result,) = response.json()["results"]
    assert result["result"]["unified"]["status"] == "not comparable"
    assert "IIM 0–2 and Modified Mercuri 0–5" in result["result"]["unified"]["message"]

    export = f"/api/v1/cohorts/{cohort.slug}/export/group-scores/"
    refused = client.get(export)
    assert refused.status_code == 400
    assert "choose one protocol" in refused.json()["protocol"][0]
    one = client.get(export + "?protocol=thigh-mercuri&format=csv")
    assert one.status_code == 200
    rows = pd.read_csv(io.BytesIO(b"".join(one.streaming_content)))
    # Only the Mercuri-read patient has scores: 13 muscles graded 1 on T1.
    assert rows["total"].dropna().tolist() == [13.0]
