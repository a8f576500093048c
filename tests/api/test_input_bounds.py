"""Bad input anywhere in the API and pages is a 400 or 404 with a message, never a 500
(issue 22, item 5): deep JSON, NUL characters, ids beyond bigint, non-ASCII digits."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from iim_scoring.api.guards import NUL_IN_REQUEST
from iim_scoring.api.parsers import JSON_TOO_DEEP
from tests import factories

pytestmark = pytest.mark.django_db

DEEP = "[" * 50000 + "]" * 50000
BEYOND_BIGINT = "99999999999999999999999"


@pytest.fixture
def api(statistician):
    client = APIClient()
    client.force_authenticate(statistician)
    return client


def test_deep_json_posted_to_a_read_only_endpoint_is_refused_without_a_crash(api, cohort):
    # A POST to a GET-only endpoint: 405 before the body is read, or 400 if it is.
    response = api.post(
        f"/api/v1/cohorts/{cohort.slug}/patients/", DEEP, content_type="application/json"
    )
    assert response.status_code in (400, 405)


def test_deep_json_is_a_400_with_its_reason(radiologist):
    client = APIClient()
    client.force_authenticate(radiologist)
    response = client.post("/reading/api/preferences/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == JSON_TOO_DEEP


@pytest.mark.parametrize("what", ["patients/a%00b/", "studies/a%00b/"])
def test_a_nul_in_an_api_path_is_a_json_400(api, cohort, what):
    factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    response = api.get(f"/api/v1/cohorts/{cohort.slug}/{what}")
    assert response.status_code == 400
    assert response.json()["detail"] == NUL_IN_REQUEST


def test_a_nul_in_a_query_is_a_400(api, cohort):
    response = api.get(f"/api/v1/cohorts/{cohort.slug}/patients/?q=%00")
    assert response.status_code == 400


def test_a_nul_in_a_page_path_is_a_400_page(client, coordinator, cohort):
    client.force_login(coordinator)
    response = client.get(f"/cohorts/{cohort.slug}/patients/IIM%00/")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [f"read={BEYOND_BIGINT}", f"read=-{BEYOND_BIGINT}", "read=²", "read=1.5", "read=١٢"],
)
def test_a_read_id_filter_that_is_no_id_is_a_400(api, cohort, query):
    response = api.get(f"/api/v1/cohorts/{cohort.slug}/grades/?{query}")
    assert response.status_code == 400, response.content
    assert "read" in response.json()


@pytest.mark.parametrize("query", [f"timepoint={BEYOND_BIGINT}", "timepoint=²", "timepoint=NaN"])
def test_a_timepoint_filter_that_is_no_timepoint_is_a_400(api, cohort, query):
    response = api.get(f"/api/v1/cohorts/{cohort.slug}/reads/?{query}")
    assert response.status_code == 400, response.content


def test_a_read_detail_beyond_bigint_is_a_404(api, cohort):
    assert api.get(f"/api/v1/cohorts/{cohort.slug}/reads/{BEYOND_BIGINT}/").status_code == 404
