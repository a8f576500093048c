"""Dashboards read stored results, respect roles and cohorts, and export their data."""

from __future__ import annotations

import csv
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cohorts.models import CohortMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db, clinician):
    call_command("seed_demo", "--no-images", stdout=StringIO())
    from cohorts.models import Cohort

    cohort = Cohort.objects.get(slug="demo-iim")
    CohortMembership.objects.get_or_create(cohort=cohort, user=clinician)
    return cohort


def test_dashboard_data_comes_from_stored_results(client, clinician, demo):
    client.force_login(clinician)
    data = client.get(reverse("analytics:dashboard-data", args=[demo.slug])).json()
    assert data["status"]["label"] == "fresh" and data["computed_at"]
    heatmap = data["figures"]["heatmap"]["data"][0]
    assert heatmap["zmin"] == 0 and heatmap["zmax"] == 2
    assert heatmap["x"] == ["IBM (n=9)", "DM (n=5)", "PM (n=6)", "ASYS (n=5)", "IMNM (n=9)"]
    assert len(heatmap["y"]) == 15 and heatmap["y"][0].startswith("Upper extremity")
    scatter = data["figures"]["scatter_mmt8"]
    assert "R²" in scatter["summary"] and "n = 33" in scatter["summary"]  # one MMT-8 missing
    assert len(data["tables"]["kruskal"]) == 15


def test_median_switch_changes_the_heatmap(client, clinician, demo):
    client.force_login(clinician)
    url = reverse("analytics:dashboard-data", args=[demo.slug])
    mean = client.get(url).json()["figures"]["heatmap"]
    median = client.get(url, {"stat": "median"}).json()["figures"]["heatmap"]
    assert mean["data"][0]["z"] != median["data"][0]["z"]
    assert "Median" in median["layout"]["title"]["text"]


def test_a_filter_set_is_computed_on_request_and_stored_separately(client, clinician, demo):
    from analytics.models import AnalysisResult, CohortAnalyticsState

    client.force_login(clinician)
    url = reverse("analytics:dashboard-data", args=[demo.slug])

    def stored() -> set[tuple[str, ...]]:
        results = AnalysisResult.objects.filter(cohort=demo, analysis="group_profile")
        return {tuple(r.parameters["subtypes"]) for r in results}

    states = list(CohortAnalyticsState.objects.values())
    # Asking for a filter set by GET stores and queues nothing: the page is told to ask.
    data = client.get(url, {"subtype": ["DM", "IBM"]}).json()
    assert data["needs_computation"] is True and data["figures"] == {}
    assert stored() == {()}
    assert list(CohortAnalyticsState.objects.values()) == states
    compute = reverse("analytics:dashboard-compute", args=[demo.slug])
    assert client.get(compute, {"subtype": ["DM", "IBM"]}).status_code == 405
    # Its POST queues it (eager here: computed within the request).
    response = client.post(f"{compute}?subtype=DM&subtype=IBM")
    assert response.status_code == 202
    data = client.get(url, {"subtype": ["DM", "IBM"]}).json()
    assert data["needs_computation"] is False
    heatmap = data["figures"]["heatmap"]["data"][0]
    assert heatmap["x"] == ["IBM (n=9)", "DM (n=5)"]
    assert stored() == {(), ("DM", "IBM")}


def test_the_default_set_needs_no_computation_request(client, clinician, demo):
    client.force_login(clinician)
    data = client.get(reverse("analytics:dashboard-data", args=[demo.slug])).json()
    assert data["needs_computation"] is False
    response = client.post(reverse("analytics:dashboard-compute", args=[demo.slug]))
    assert response.status_code == 200 and response.json() == {"queued": False}


def test_figure_data_downloads_as_csv(client, clinician, demo):
    client.force_login(clinician)
    response = client.get(reverse("analytics:dashboard-csv", args=[demo.slug, "kruskal"]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 15 and {"group", "H", "p", "p_adj", "epsilon_squared"} <= set(rows[0])


def test_radiologist_gets_404_on_dashboards_and_patient_profiles(client, radiologist, demo):
    client.force_login(radiologist)
    for url in (
        reverse("analytics:dashboard", args=[demo.slug]),
        reverse("analytics:dashboard-data", args=[demo.slug]),
        reverse("analytics:dashboard-csv", args=[demo.slug, "scatter"]),
    ):
        assert client.get(url).status_code == 404, url
    profile = reverse("analytics:patient-profile", args=[demo.slug, "IIM-0001"])
    assert client.get(profile).status_code in (403, 404)


def test_member_of_another_cohort_gets_404(client, demo):
    from tests.factories import CohortFactory, user_with_role

    outsider = user_with_role("clinician", username="outsider", cohort=CohortFactory())
    client.force_login(outsider)
    assert client.get(reverse("analytics:dashboard", args=[demo.slug])).status_code == 404


def test_patient_profile_shows_group_scores_and_clinical_values(client, clinician, demo):
    client.force_login(clinician)
    response = client.get(reverse("analytics:patient-profile", args=[demo.slug, "IIM-0010"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "IIM-0010" in content and "Dermatomyositis" in content
    assert "group score" in content and 'id="clinical-values"' in content


def test_freshness_poll_says_fresh_without_reading_the_results_json(client, clinician, demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(clinician)
    with CaptureQueriesContext(connection) as queries:
        status = client.get(reverse("analytics:dashboard-status", args=[demo.slug])).json()
    assert status["status"]["label"] == "fresh" and status["computed_at"]
    # Every open dashboard polls this: the stored results' JSON must not be read.
    sql = [q["sql"] for q in queries]
    reads_of_results = [q for q in sql if "analytics_analysisresult" in q and '"result"' in q]
    assert reads_of_results == []


def test_the_ck_axis_follows_the_model_and_table_one_speaks_in_words(client, clinician, demo):
    client.force_login(clinician)
    url = reverse("analytics:dashboard-data", args=[demo.slug])
    data = client.get(url).json()
    linear = data["figures"]["scatter_ck"]["layout"]["yaxis"]
    assert linear.get("type") != "log"  # the linear model is a straight line on a linear axis
    labels = {row["label"] for row in data["tables"]["descriptives"]}
    assert {"Disease duration (months)", "CK (U/L)", "MMT-8 (0–150)"} <= labels
    client.post(reverse("analytics:dashboard-compute", args=[demo.slug]) + "?ck=log10")
    logged = client.get(url, {"ck": "log10"}).json()["figures"]["scatter_ck"]["layout"]
    assert logged["yaxis"]["type"] == "log"


def test_junk_filters_are_a_400_that_names_them_and_store_nothing(client, clinician, demo):
    from analytics.models import AnalysisResult

    client.force_login(clinician)
    before = AnalysisResult.objects.count()
    for query in ("?site=junk", "?timepoint=%C2%B2", "?reader=abc", "?nonsense=1"):
        data = client.get(reverse("analytics:dashboard-data", args=[demo.slug]) + query)
        assert data.status_code == 400
        compute = client.post(reverse("analytics:dashboard-compute", args=[demo.slug]) + query)
        assert compute.status_code == 400
    assert AnalysisResult.objects.count() == before
