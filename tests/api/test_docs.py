"""The OpenAPI schema, Swagger UI and ReDoc: local static files only, no inline script."""

from __future__ import annotations

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


def script_src(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(p for p in policy.split(";") if p.strip().startswith("script-src"))


def test_schema_describes_every_v1_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for name in (
        "grades",
        "read-scores",
        "muscle-scores",
        "group-scores",
        "patients",
        "codebook",
    ):
        assert f"/api/v1/cohorts/{{slug}}/export/{name}/" in paths
    grades = schema["paths"]["/api/v1/cohorts/{slug}/export/grades/"]["get"]
    assert set(grades["responses"]["200"]["content"]) == {
        "text/csv",
        "application/json",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/x-spss-sav",
        "application/vnd.apache.parquet",
    }
    assert {"403", "404"} <= set(grades["responses"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_files_and_no_inline_script(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "a file from another site"
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert "/static/drf_spectacular_sidecar/" in html
    assert "'unsafe-inline'" not in script_src(response)


def test_swagger_init_script_is_served_as_javascript_from_the_site(client):
    html = client.get("/api/docs/").content.decode()
    init = re.search(r'<script src="([^"]*script[^"]*)"', html).group(1).replace("&amp;", "&")
    response = client.get(init)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content
    assert b"/api/schema/" in response.content
