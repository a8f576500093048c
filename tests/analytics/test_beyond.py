"""The analyses beyond the paper are stored with the cohort's results, kept current, shown
to the roles that see dashboards, served in the analytics JSON and documented in the codebook.

The statistics themselves are checked against R and published examples in tests/stats; here
the stored numbers are checked against counts made by hand from the grade rows."""

from __future__ import annotations

import io
from collections import defaultdict
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.beyond import cohort_beyond_recompute
from analytics.models import AnalysisResult
from cohorts.models import Cohort, CohortMembership
from scoring.models import Grade, Read
from scoring.services import CellChange, read_amend
from tests.api.conftest import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db, clinician, statistician):
    call_command("seed_demo", "--no-images", stdout=StringIO())
    cohort = Cohort.objects.get(slug="demo-iim")
    for user in (clinician, statistician):
        CohortMembership.objects.get_or_create(cohort=cohort, user=user)
    return cohort


def _beyond(cohort: Cohort) -> AnalysisResult:
    return AnalysisResult.objects.get(cohort=cohort, analysis="beyond_paper")


def _unified_sides(read: Read) -> dict[tuple[str, str], float | None]:
    """max(STIR, T1) per muscle and side, NA ignored: the definition, counted by hand."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for muscle, side, value in Grade.objects.filter(read=read).values_list(
        "muscle__slug", "side", "value"
    ):
        cells[(muscle, side)] += [] if value == "NA" else [int(value)]
    return {cell: (max(values) if values else None) for cell, values in cells.items()}


def test_seeding_stores_the_beyond_analyses_for_the_same_input_as_the_papers(demo):
    beyond = _beyond(demo)
    paper = AnalysisResult.objects.get(cohort=demo, analysis="group_profile")
    assert beyond.status == "done"
    assert beyond.input_fingerprint == paper.input_fingerprint
    assert beyond.parameters == paper.parameters
    assert beyond.computed_at is not None
    result = beyond.result
    assert {"agreement", "asymmetry", "longitudinal", "patterns"} <= set(result)
    for part in ("asymmetry", "longitudinal", "patterns"):
        assert result[part]["status"] == "ok", part


def test_ibm_is_the_most_asymmetric_subtype_of_the_demo_cohort(demo):
    per_subtype = _beyond(demo).result["asymmetry"]["by_subtype"]["per_subtype"]
    means = {row["subtype"]: row["mean"] for row in per_subtype}
    assert max(means, key=means.get) == "IBM"


def test_a_patients_share_of_asymmetric_muscles_matches_a_count_by_hand(demo):
    read = Read.objects.get(
        study__patient__pseudonym="IIM-0001", kind="primary", study__timepoint=0
    )
    unified = _unified_sides(read)
    muscles = {muscle for muscle, _side in unified}
    both = [m for m in muscles if None not in (unified.get((m, "L")), unified.get((m, "R")))]
    asymmetric = [m for m in both if abs(unified[(m, "L")] - unified[(m, "R")]) >= 1]
    rows = _beyond(demo).result["asymmetry"]["patients"]
    row = next(r for r in rows if r["read_id"] == read.pk)
    assert row["n_muscles_both_sides"] == len(both) == 60
    assert row["n_asymmetric"] == len(asymmetric)
    assert row["proportion_asymmetric"] == pytest.approx(len(asymmetric) / len(both))


def test_per_muscle_asymmetry_is_the_mean_left_minus_right_over_patients(demo):
    reads = Read.objects.filter(study__patient__cohort=demo, kind="primary", study__timepoint=0)
    diffs = []
    for read in reads:
        unified = _unified_sides(read)
        left, right = (
            unified.get(("tibialis-anterior", "L")),
            unified.get(("tibialis-anterior", "R")),
        )
        if left is not None and right is not None:
            diffs.append(left - right)
    rows = _beyond(demo).result["asymmetry"]["muscles"]
    row = next(r for r in rows if r["muscle"] == "tibialis-anterior")
    assert row["n_patients"] == len(diffs) == 34
    assert row["diff"] == pytest.approx(sum(diffs) / len(diffs))
    assert row["ai"] == pytest.approx(sum(abs(d) for d in diffs) / 2 / len(diffs))
    assert row["share_asymmetric"] == pytest.approx(sum(abs(d) >= 1 for d in diffs) / len(diffs))


def test_inter_reader_agreement_pairs_every_double_read_and_counts_agreement(demo):
    seconds = Read.objects.filter(study__patient__cohort=demo, kind="second", status="submitted")
    agree = total = 0
    for second in seconds:
        first = Read.objects.get(study=second.study, kind="primary")
        a, b = _unified_sides(first), _unified_sides(second)
        for cell in a.keys() & b.keys():
            if a[cell] is not None and b[cell] is not None:
                total += 1
                agree += a[cell] == b[cell]
    inter = _beyond(demo).result["agreement"]["inter"]
    assert inter["status"] == "ok"
    assert inter["n_pairs"] == seconds.count()
    assert inter["pooled"]["n_pairs"] == total
    assert inter["pooled"]["percent_agreement"] == pytest.approx(agree / total)
    assert 0 < inter["pooled"]["kappa_linear"] < 1
    forms = {(row["score"], row["form"]) for row in inter["icc"]}
    assert {("total", "ICC2"), ("total", "ICC3")} <= forms
    intra = _beyond(demo).result["agreement"]["intra"]
    assert intra["n_pairs"] == Read.objects.filter(kind="reread", status="submitted").count()


def test_follow_ups_give_trajectories_and_yearly_change(demo):
    longitudinal = _beyond(demo).result["longitudinal"]
    followed = Read.objects.filter(study__patient__cohort=demo, study__timepoint=1)
    patients = {r.study.patient_id for r in followed}
    assert {row["patient_id"] for row in longitudinal["trajectories"]} >= patients
    summary = {
        row["subtype"]: row["median_change_per_year"]
        for row in longitudinal["summary"]
        if row["score"] == "total"
    }
    # The demo's IBM gains fat over a year; treated inflammatory subtypes lose oedema.
    assert summary["IBM"] > 0
    shown = {s: v for s, v in summary.items() if v is not None}
    assert all(shown[s] <= 0 for s in ("DM", "IMNM", "PM", "ASYS") if s in shown)
    # Fewer than three followed patients give no median but say why.
    too_few = [r for r in longitudinal["summary"] if r["median_change_per_year"] is None]
    assert all(r["status"].startswith("too few (n = ") for r in too_few)
    assert all(r["n_patients"] < 3 for r in too_few)


def test_clustering_covers_every_patient_and_the_classifier_is_labelled_exploratory(demo):
    patterns = _beyond(demo).result["patterns"]
    assert len(patterns["clustering"]["patient_order"]) == 34
    classifier = patterns["classifier"]
    assert classifier["exploratory"] is True
    assert "Exploratory" in classifier["label"]
    assert sum(map(sum, classifier["confusion_matrix"])) == 34 * classifier["n_repeats"]


def test_an_amended_grade_refreshes_the_beyond_analyses(demo, django_capture_on_commit_callbacks):
    before = _beyond(demo)
    read = Read.objects.get(study__patient__pseudonym="IIM-0020", kind="primary")
    muscles = list(read.protocol.muscles.filter(group__slug="ventral-thigh"))
    with django_capture_on_commit_callbacks(execute=True):
        read_amend(
            read=read,
            changes=[CellChange(m, "L", "STIR", "2") for m in muscles],
            actor=read.reader,
            reason="re-review",
            expected_version=read.version,
        )
    after = _beyond(demo)
    assert after.input_fingerprint != before.input_fingerprint
    assert after.computed_at > before.computed_at
    assert cohort_beyond_recompute(cohort_id=demo.pk) == "unchanged"


def test_clinicians_dashboard_gets_every_beyond_figure(client, clinician, demo):
    client.force_login(clinician)
    data = client.get(reverse("analytics:dashboard-beyond", args=[demo.slug])).json()
    assert data["available"] is True
    assert set(data["figures"]) == {"asymmetry", "trajectories", "clustered", "classifier"}
    assert data["agreement"]["inter"]["status"] == "ok"
    assert data["notes"]["longitudinal"].startswith("Median change of the total score per year")
    assert "IBM +" in data["notes"]["longitudinal"]


def test_statisticians_analytics_json_holds_the_beyond_analyses(statistician, demo):
    api = APIClient()
    api.force_authenticate(statistician)
    url = f"/api/v1/cohorts/{demo.slug}/analytics/?analysis=beyond_paper"
    body = api.get(url).json()
    (result,) = body["results"]
    assert result["analysis"] == "beyond_paper"
    assert result["parameters"]["correction"] == "holm"
    assert result["input_fingerprint"] and result["computed_at"]
    assert result["result"]["agreement"]["intra"]["status"] == "ok"


def test_the_codebook_documents_the_analytics_json(statistician, demo):
    api = APIClient()
    api.force_authenticate(statistician)
    response = api.get(f"/api/v1/cohorts/{demo.slug}/export/codebook/")
    codebook = pd.read_csv(io.BytesIO(body(response)), dtype=str, keep_default_na=False)
    documented = set(codebook.loc[codebook["export"] == "analytics", "variable"])
    assert (codebook["meaning"] != "").all()
    for path in (
        "beyond_paper.agreement.<kind>.pooled.kappa_linear",
        "beyond_paper.agreement.<kind>.icc[].icc",
        "beyond_paper.asymmetry.patients[].proportion_asymmetric",
        "beyond_paper.longitudinal.changes[].change_per_year",
        "beyond_paper.patterns.classifier.balanced_accuracy_mean",
        "subtype_comparison.<scope>.kruskal[].H",
        "clinical_correlation.<scope>.fits[].slope",
    ):
        assert path in documented, path


def test_a_failed_beyond_computation_is_shown_as_failed_not_as_the_old_figures(
    client, clinician, demo, monkeypatch
):
    from analytics import beyond

    def broken(*_args, **_kwargs):
        raise ValueError("a reader's grades do not fit the atlas")

    monkeypatch.setattr(beyond, "compute_beyond", broken)
    assert beyond.cohort_beyond_recompute(cohort_id=demo.pk, force=True) == "failed"
    client.force_login(clinician)
    data = client.get(reverse("analytics:dashboard-beyond", args=[demo.slug])).json()
    assert data["available"] is False and data["failed"] is True
    assert "do not fit the atlas" in data["message"]
    assert "figures" not in data
