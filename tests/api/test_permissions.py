"""Who may read what through /api/v1/, and that nobody writes through it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scoring.models import Read
from tests import factories
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

COHORT_URLS = [
    "/api/v1/cohorts/",
    "/api/v1/cohorts/scored/",
    "/api/v1/cohorts/scored/patients/",
    "/api/v1/cohorts/scored/patients/IIM-0001/",
    "/api/v1/cohorts/scored/studies/",
    "/api/v1/cohorts/scored/studies/2.25.90001/",
    "/api/v1/cohorts/scored/series/",
    "/api/v1/cohorts/scored/reads/",
    "/api/v1/cohorts/scored/reads/{read}/",
    "/api/v1/cohorts/scored/grades/",
    "/api/v1/cohorts/scored/export/grades/",
    "/api/v1/cohorts/scored/export/grades/?format=json",
    "/api/v1/cohorts/scored/export/muscle-scores/",
    "/api/v1/cohorts/scored/export/group-scores/",
    "/api/v1/cohorts/scored/export/patients/",
    "/api/v1/cohorts/scored/export/codebook/",
    "/api/v1/cohorts/scored/analytics/",
]
VOCABULARY_URLS = [
    "/api/v1/atlas/regions/",
    "/api/v1/atlas/groups/",
    "/api/v1/atlas/muscles/",
    "/api/v1/protocols/",
    "/api/v1/protocols/whole-body-iim/",
]


def _urls(urls: list[str]) -> list[str]:
    read = Read.objects.filter(study__patient__cohort__slug="scored").order_by("pk").first()
    return [url.format(read=read.pk) for url in urls]


def test_statistician_token_reads_every_endpoint(scored_cohort, statistician_client):
    for url in _urls(COHORT_URLS + VOCABULARY_URLS):
        response = statistician_client.get(url)
        assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_clinicians_and_coordinators_of_the_cohort_read_it_too(scored_cohort, role, request):
    client = token_client(request.getfixturevalue(role))
    for url in _urls(COHORT_URLS):
        assert client.get(url).status_code == 200, url


def test_statistician_cannot_write_anything(scored_cohort, statistician_client):
    for url in _urls(COHORT_URLS + VOCABULARY_URLS):
        for method in ("post", "put", "patch", "delete"):
            response = getattr(statistician_client, method)(url, {"value": "2"}, format="json")
            assert response.status_code in (403, 405), (method, url, response.status_code)
    # Nor through the reading page's API, nor through the coordinator's import page.
    read = Read.objects.filter(study__patient__cohort=scored_cohort).first()
    change = {
        "version": read.version,
        "changes": [{"muscle": "deltoid", "side": "L", "sequence": "STIR", "value": "2"}],
    }
    response = statistician_client.post(
        f"/reading/api/reads/{read.token}/grades/", change, format="json"
    )
    assert response.status_code in (403, 404)
    response = statistician_client.post(
        f"/reading/api/reads/{read.token}/submit/", {}, format="json"
    )
    assert response.status_code in (403, 404)
    read.refresh_from_db()
    assert read.version == change["version"]


def test_writes_are_refused_with_method_not_allowed(scored_cohort, statistician_client):
    response = statistician_client.post("/api/v1/cohorts/scored/patients/", {"pseudonym": "X"})
    assert response.status_code == 405
    assert "GET" in response["Allow"]


def test_radiologist_token_gets_no_cohort_data_or_exports(scored_cohort, radiologist_client):
    for url in _urls(COHORT_URLS):
        response = radiologist_client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert b"IIM-000" not in response.content, url


def test_radiologist_token_reads_the_atlas_and_protocols(scored_cohort, radiologist_client):
    for url in VOCABULARY_URLS:
        assert radiologist_client.get(url).status_code == 200, url


def test_radiologist_who_is_also_a_cohort_member_still_gets_nothing(scored_cohort, radiologist):
    scored_cohort.memberships.create(user=radiologist)
    client = token_client(radiologist)
    assert client.get("/api/v1/cohorts/scored/export/grades/").status_code == 403
    assert client.get("/api/v1/cohorts/scored/reads/").status_code == 403


def test_statistician_of_another_cohort_gets_404_and_an_empty_list(scored_cohort):
    outsider = factories.user_with_role("statistician", username="outsider")
    client = token_client(outsider)
    assert client.get("/api/v1/cohorts/").json()["count"] == 0
    for url in _urls(COHORT_URLS[1:]):
        assert client.get(url).status_code == 404, url


def test_anonymous_and_bad_tokens_are_refused(scored_cohort):
    anonymous = APIClient()
    for url in ["/api/v1/cohorts/", "/api/v1/cohorts/scored/export/grades/", "/api/v1/protocols/"]:
        assert anonymous.get(url).status_code in (401, 403), url
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert forged.get("/api/v1/cohorts/").status_code in (401, 403)


def test_user_without_a_role_cannot_read_the_atlas(db):
    nobody = factories.UserFactory(username="nobody")
    assert token_client(nobody).get("/api/v1/atlas/muscles/").status_code == 403


def test_session_login_works_as_well_as_tokens(scored_cohort, statistician, client):
    client.force_login(statistician)
    assert client.get("/api/v1/cohorts/scored/patients/").status_code == 200


def test_drf_create_token_makes_a_token_that_reads_the_api(scored_cohort, statistician):
    out = io.StringIO()
    call_command("drf_create_token", "statistician", stdout=out)
    key = Token.objects.get(user=statistician).key
    assert key in out.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/cohorts/scored/export/patients/").status_code == 200


def test_lists_are_paginated_and_filtered(scored_cohort, statistician_client):
    page = statistician_client.get("/api/v1/cohorts/scored/grades/?page_size=7").json()
    assert len(page["results"]) == 7 and page["next"]
    stir = statistician_client.get(
        "/api/v1/cohorts/scored/grades/?sequence=STIR&muscle=deltoid&reader=radiologist"
    ).json()
    assert {(g["sequence"], g["muscle"], g["reader"]) for g in stir["results"]} == {
        ("STIR", "deltoid", "radiologist")
    }
    assert stir["count"] == 3 * 2  # three reads of that reader grade the deltoid, L and R
    dm = statistician_client.get("/api/v1/cohorts/scored/patients/?subtype=DM").json()
    assert [p["pseudonym"] for p in dm["results"]] == ["IIM-0001"]
    bad = statistician_client.get("/api/v1/cohorts/scored/patients/?subtype=XYZ")
    assert bad.status_code == 400


def test_patients_come_with_their_clinical_data(scored_cohort, statistician_client):
    patient = statistician_client.get("/api/v1/cohorts/scored/patients/IIM-0001/").json()
    assert patient["subtype"] == "DM"
    assert patient["assessments"][0]["ck"] == 2400
    assert patient["assessments"][0]["mmt8_total"] == 118
    assert patient["assessments"][0]["disease_duration_months"] == 4.5


def test_studies_list_their_series(scored_cohort, statistician_client):
    study = statistician_client.get("/api/v1/cohorts/scored/studies/2.25.90001/").json()
    assert [(s["series_uid"], s["sequence"]) for s in study["series"]] == [
        ("2.25.90001.1", "STIR"),
        ("2.25.90001.2", "T1"),
    ]


def test_unknown_api_paths_are_json_404s_and_missing_slashes_redirect(statistician_client):
    response = statistician_client.get("/api/v1/cohorts/not a slug!/patients/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert statistician_client.get("/api/v1/cohorts").status_code == 301
