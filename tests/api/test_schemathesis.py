"""Property-based API testing: schemathesis generates requests from /api/schema/ for every
/api/v1/ operation and checks each response against the schema (status codes, content types,
bodies) and for server errors, as an authenticated statistician against the WSGI app."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from scoring.models import Read

MAX_EXAMPLES = 25


@pytest.fixture
def _one_connection():
    # Like Django's test client: the WSGI app must not close the test's database connection
    # (and with it the test transaction) at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


_current_token: dict[str, str] = {}


@pytest.fixture
def statistician_token(statistician) -> str:
    key = Token.objects.get_or_create(user=statistician)[0].key
    _current_token["key"] = key
    yield key
    _current_token.clear()


# Loaded at collection (no database needed: the schema is generated from the code).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(
    path_regex=r"^/api/v1/"
)


@schema.auth(refresh_interval=None)
class StatisticianToken:
    """The statistician's API token (schemathesis also probes each operation without it)."""

    def get(self, case, ctx):
        return _current_token.get("key")

    def set(self, case, data, ctx) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@schema.hook("flatmap_path_parameters")
def often_real_objects(context, path_parameters):
    """Half the cases name objects that exist (the scored cohort's), so 200 responses and
    their bodies are checked too, not only 404s."""
    read_ids = list(
        Read.objects.filter(study__patient__cohort__slug="scored").values_list("pk", flat=True)
    )
    real = {
        "slug": st.sampled_from(["scored", "whole-body-iim", "thigh-only"]),
        "pseudonym": st.sampled_from(["IIM-0001", "IIM-0004"]),
        "study_uid": st.just("2.25.90001"),
        "id": st.sampled_from(read_ids or [0]),
    }
    names = [name for name in path_parameters or {} if name in real]
    if not names:
        return st.just(path_parameters)
    existing = st.fixed_dictionaries({name: real[name] for name in names})
    return st.one_of(st.just(path_parameters), existing.map(lambda e: {**path_parameters, **e}))


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_v1_conforms_to_its_schema(case, _one_connection, scored_cohort, statistician_token):
    if case.operation.path.endswith("/analytics/"):
        # Its filters name the cohort's own sites, readers, protocols and timepoints, which no
        # schema can list: a well-formed value the cohort lacks is a 400 that names it.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])
    elif "/export/" in case.operation.path:
        # An export's query values are text, and an empty one means the default (the schema's
        # allowEmptyValue): schemathesis's "invalid" values (a number for a username, an empty
        # format) are valid queries. Bad export parameters: tests/api/test_export_details.py.
        case.call_and_validate(excluded_checks=[negative_data_rejection])
    else:
        case.call_and_validate()
