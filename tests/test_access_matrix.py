"""Every route × every role (and anonymous) has an expected outcome, generated from the URL
conf: a new route without a rule here fails this test until someone decides who may use it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from scoring.blinding import image_token
from scoring.models import ScoringProtocol
from scoring.services import read_assign
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "radiologist", "clinician", "statistician", "coordinator")
OK, DENY, LOGIN = "ok", "deny", "login"


def _rule(
    anonymous=LOGIN,
    radiologist=DENY,
    clinician=DENY,
    statistician=DENY,
    coordinator=DENY,
):
    return {
        "anonymous": anonymous,
        "radiologist": radiologist,
        "clinician": clinician,
        "statistician": statistician,
        "coordinator": coordinator,
    }


EVERYONE = _rule(OK, OK, OK, OK, OK)
SIGNED_IN = _rule(LOGIN, OK, OK, OK, OK)
READER = _rule(radiologist=OK)
CLINICAL_VIEW = _rule(clinician=OK, statistician=OK, coordinator=OK)
CLINICAL_EDIT = _rule(clinician=OK, coordinator=OK)
CLINICIAN_ONLY = _rule(clinician=OK)
COORDINATOR_ONLY = _rule(coordinator=OK)
API_DATA = _rule(clinician=OK, statistician=OK, coordinator=OK)
NOT_OFFERED = _rule(anonymous=DENY)

RULES: dict[str, dict[str, str]] = {
    "home": SIGNED_IN,
    "healthz": EVERYONE,
    "data-protection": COORDINATOR_ONLY,
    "operations": COORDINATOR_ONLY,
    "login": EVERYONE,
    "logout": None,  # POST only; covered by the login tests
    "password_change": SIGNED_IN,
    "password_change_done": SIGNED_IN,
    # Not offered without mail (no EMAIL_URL in tests): tests/test_password_reset_and_docs.py.
    "password_reset": NOT_OFFERED,
    "password_reset_done": NOT_OFFERED,
    "password_reset_confirm": NOT_OFFERED,
    "password_reset_complete": NOT_OFFERED,
    "cohorts:cohort-list": CLINICAL_VIEW,
    "cohorts:cohort-detail": CLINICAL_VIEW,
    "cohorts:patient-list": CLINICAL_VIEW,
    "cohorts:patient-create": CLINICAL_EDIT,
    "cohorts:patient-detail": CLINICAL_VIEW,
    "cohorts:patient-edit": CLINICAL_EDIT,
    "cohorts:assessment-edit": CLINICIAN_ONLY,
    "cohorts:dicom-import": COORDINATOR_ONLY,
    "cohorts:dicom-import-job": COORDINATOR_ONLY,
    "cohorts:dicom-import-job-status": COORDINATOR_ONLY,
    "cohorts:dicom-network": COORDINATOR_ONLY,
    "cohorts:pacs-echo": None,  # POST only: tests/dicom_import/test_pacs.py
    "cohorts:pacs-search": None,  # needs a PACS row: tests/dicom_import/test_pacs.py
    "cohorts:pacs-retrieve": None,  # POST only: tests/dicom_import/test_pacs.py
    "cohorts:study-series": COORDINATOR_ONLY,
    "cohorts:series-slice-png": _rule(clinician=OK, coordinator=OK),
    "scoring:worklist": READER,
    "scoring:read": READER,
    "scoring:read-image": READER,
    "scoring:api-read": READER,
    "scoring:api-grades": None,  # POST only: tests/scoring/test_reading_api.py
    "scoring:api-submit": None,
    "scoring:api-amend": None,
    "scoring:api-notes": None,
    "scoring:api-activity": None,
    "scoring:api-levels": None,  # POST only: tests/dicom_import/test_whole_body.py
    "scoring:api-prefs": READER,
    "scoring:assign": COORDINATOR_ONLY,
    "scoring:amendments": COORDINATOR_ONLY,
    "scoring:adjudication": COORDINATOR_ONLY,
    "scoring:study-reading": COORDINATOR_ONLY,
    "scoring:series-rules": COORDINATOR_ONLY,
    "scoring:read-audit": COORDINATOR_ONLY,
    "scoring:patient-record": COORDINATOR_ONLY,
    "scoring:patient-erase": COORDINATOR_ONLY,
    "analytics:dashboard": CLINICAL_VIEW,
    "analytics:dashboard-data": CLINICAL_VIEW,
    "analytics:dashboard-beyond": CLINICAL_VIEW,
    "analytics:dashboard-status": CLINICAL_VIEW,
    "analytics:dashboard-compute": None,  # POST only: tests/analytics/test_dashboard.py
    "analytics:dashboard-csv": CLINICAL_VIEW,
    "analytics:patient-profile": CLINICAL_EDIT,
    "analytics:my-training": READER,  # a trainee's own cases, blind labels only
    "analytics:cohort-training": COORDINATOR_ONLY,
    "api-v1:cohort-list": API_DATA,
    "api-v1:cohort-detail": API_DATA,
    "api-v1:patient-list": API_DATA,
    "api-v1:patient-detail": API_DATA,
    "api-v1:study-list": API_DATA,
    "api-v1:study-detail": API_DATA,
    "api-v1:series-list": API_DATA,
    "api-v1:read-list": API_DATA,
    "api-v1:read-detail": API_DATA,
    "api-v1:grade-list": API_DATA,
    "api-v1:export-grades": API_DATA,
    "api-v1:export-read-scores": API_DATA,
    "api-v1:export-muscle-scores": API_DATA,
    "api-v1:export-group-scores": API_DATA,
    "api-v1:export-patients": API_DATA,
    "api-v1:export-codebook": API_DATA,
    "api-v1:analytics": API_DATA,
    "api-v1:region-list": SIGNED_IN,
    "api-v1:group-list": SIGNED_IN,
    "api-v1:muscle-list": SIGNED_IN,
    "api-v1:protocol-list": SIGNED_IN,
    "api-v1:protocol-detail": SIGNED_IN,
    "imports:score-sheet": COORDINATOR_ONLY,
    "api-v1:not-found": None,  # a catch-all that answers 404 to everyone
    # The schema and its documentation hold no data; statisticians' scripts read them.
    "api-schema": EVERYONE,
    "api-docs": EVERYONE,
    "api-redoc": EVERYONE,
    "api-token": _rule(statistician=OK, coordinator=OK),
}


# Route-specific values where a parameter names something else than the cohort.
ROUTE_VALUES = {"api-v1:protocol-detail": {"slug": "thigh-only"}}


def _routes(patterns=None, prefix="", namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue  # the Django admin checks staff itself; covered by role tests
            ns = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace + (pattern.name or "")


def test_every_route_has_an_access_rule():
    missing = [name or route for route, name in _routes() if name not in RULES]
    assert not missing, f"routes without an access rule in this test: {missing}"


@pytest.fixture
def world(cohort, radiologist, clinician, statistician, coordinator):
    """One cohort with a patient, a study with images, a read of the radiologist."""
    from cohorts.imaging.dicom.deid import dicom_bytes
    from cohorts.imaging.dicom.synthetic import synthetic_study
    from cohorts.imaging.ingest import dicom_import

    patient = factories.PatientFactory(cohort=cohort, pseudonym="IIM-0001")
    factories.AssessmentFactory(patient=patient)
    datasets = synthetic_study(
        patient_id="S1", patient_name="A^B", birth_date="19500101", grades={}, slices=2, size=32
    )
    dicom_import(
        cohort=cohort,
        patient=patient,
        actor=None,
        files=[(str(i), dicom_bytes(d)) for i, d in enumerate(datasets)],
    )
    study = patient.studies.get()
    read = read_assign(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=radiologist,
        actor=None,
    )
    # The cohort's results, as a worker would have stored them (a GET never computes them).
    from analytics.recompute import cohort_analyses_recompute

    cohort_analyses_recompute(cohort_id=cohort.pk)
    series = study.series.first()
    values = {
        "slug": cohort.slug,
        "pseudonym": patient.pseudonym,
        "timepoint": 0,
        "read_id": read.pk,
        "read_token": read.token,
        "pk": read.pk,
        "instance_id": series.instances.first().pk,
        "image": image_token(read=read, instance_id=series.instances.first().pk),
        "study_id": study.pk,
        "study_uid": study.study_uid,
        "series_id": series.pk,
        "index": 0,
        "figure": "kruskal",
        "uidb64": "MQ",
        "token": "set-password",
    }
    if "job_id" in {name for route, _ in _routes() for name in re.findall(r"<\w+:(\w+)>", route)}:
        from cohorts import models as cohort_models

        job_model = next(
            (
                m
                for m in vars(cohort_models).values()
                if getattr(m, "__name__", "") == "DicomImportJob"
            ),
            None,
        )
        if job_model is not None:
            values["job_id"] = job_model.objects.create(cohort=cohort, created_by=coordinator).pk
    return {
        "values": values,
        "users": {
            "radiologist": radiologist,
            "clinician": clinician,
            "statistician": statistician,
            "coordinator": coordinator,
        },
    }


def _url(route: str, values: dict) -> str:
    def replace(match: re.Match) -> str:
        return str(values[match.group(1)])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", replace, route)


def _outcome(response) -> str:
    if response.status_code in (401, 403, 404, 405):
        return DENY
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return OK if response.status_code < 400 else f"error {response.status_code}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_its_rule_says(client, world, role):
    if role != "anonymous":
        client.force_login(world["users"][role])
    wrong = []
    for route, name in _routes():
        rule = RULES.get(name)
        if rule is None or "^" in route:
            continue
        values = {**world["values"], **ROUTE_VALUES.get(name, {})}
        response = client.get(_url(route, values))
        expected = rule[role]
        got = _outcome(response)
        is_api = route.startswith("api/") or "/api/" in route
        if role == "anonymous" and expected == LOGIN and got == DENY and is_api:
            got = LOGIN  # the API answers 401/403 instead of redirecting to the login page
        if got != expected:
            wrong.append(f"{name}: expected {expected}, got {got} ({response.status_code})")
    assert not wrong, f"{role}: " + "; ".join(wrong)


# What a request may write whatever its method: the session (saved on every request, to slide
# its timeout) and the login lockout's bookkeeping.
REQUEST_BOOKKEEPING = ("django_session", "axes_")
WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


@pytest.mark.parametrize("role", ROLES)
def test_no_get_writes_anything(client, world, role):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.models import CohortAnalyticsState

    # A cohort never recomputed has no state row: reading its pages must not create one.
    CohortAnalyticsState.objects.all().delete()
    if role != "anonymous":
        client.force_login(world["users"][role])
    writes = []
    for route, name in _routes():
        if RULES.get(name) is None or "^" in route:
            continue
        values = {**world["values"], **ROUTE_VALUES.get(name, {})}
        with CaptureQueriesContext(connection) as queries:
            client.get(_url(route, values))
        for query in queries:
            found = WRITE.match(query["sql"])
            if found and not found.group(2).startswith(REQUEST_BOOKKEEPING):
                writes.append(f"{name}: {query['sql'][:80]}")
    assert not writes, f"{role}: " + "; ".join(writes)


# --- The admin (issue 22): the clinical and reading models are for superusers only; what a
# coordinator still reaches is the shared vocabulary, their cohorts' series (the sequence fix),
# and, read-only, their cohorts' audit trail and import jobs. Non-staff roles never get in.
ADMIN_COORDINATOR = _rule(coordinator=OK)
ADMIN_NOBODY = _rule()
ADMIN_RULES: dict[str, dict[str, str]] = {
    "index": ADMIN_COORDINATOR,
    "cohorts.site": ADMIN_NOBODY,
    "cohorts.cohort": ADMIN_NOBODY,
    "cohorts.patient": ADMIN_NOBODY,
    "cohorts.imagingstudy": ADMIN_NOBODY,
    "cohorts.instance": ADMIN_NOBODY,
    "cohorts.series": ADMIN_COORDINATOR,
    "cohorts.auditevent": ADMIN_COORDINATOR,
    "cohorts.dicomimportjob": ADMIN_NOBODY,  # no view permission in the role
    "scoring.region": ADMIN_COORDINATOR,
    "scoring.functionalgroup": ADMIN_COORDINATOR,
    "scoring.muscle": ADMIN_COORDINATOR,
    "scoring.scoringprotocol": ADMIN_COORDINATOR,
    "scoring.cohortprotocol": ADMIN_NOBODY,
    "scoring.read": ADMIN_NOBODY,
    "auth.user": ADMIN_NOBODY,
    "auth.group": ADMIN_NOBODY,
    "authtoken.tokenproxy": ADMIN_NOBODY,
    "axes.accessattempt": ADMIN_NOBODY,
    "axes.accesslog": ADMIN_NOBODY,
    "axes.accessfailurelog": ADMIN_NOBODY,
    "analytics.analysisresult": ADMIN_NOBODY,
    "analytics.cohortanalyticsstate": ADMIN_NOBODY,
}


def _admin_pages() -> list[tuple[str, str]]:
    from django.contrib import admin
    from django.urls import reverse

    pages = [("index", reverse("admin:index"))]
    for model in admin.site._registry:
        label = model._meta.label_lower
        pages.append((label, reverse(f"admin:{label.replace('.', '_')}_changelist")))
    return pages


def test_every_admin_model_has_an_access_rule():
    missing = [label for label, _url in _admin_pages() if label not in ADMIN_RULES]
    assert not missing, f"admin models without an access rule in this test: {missing}"


def _admin_outcome(response, role: str) -> str:
    if response.status_code == 302 and "/admin/login/" in response["Location"]:
        return LOGIN if role == "anonymous" else DENY  # staff only: the admin's own login
    return _outcome(response)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_its_admin_rule_says(client, world, role):
    if role != "anonymous":
        client.force_login(world["users"][role])
    wrong = []
    for label, url in _admin_pages():
        expected = ADMIN_RULES[label][role]
        got = _admin_outcome(client.get(url), role)
        if got != expected:
            wrong.append(f"{label}: expected {expected}, got {got}")
    assert not wrong, f"{role}: " + "; ".join(wrong)
