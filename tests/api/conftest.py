"""A small scored cohort for the API, export and import tests, and token clients per role.

Four patients: IIM-0001 read by two radiologists plus a consensus read; IIM-0002 read once;
IIM-0003 read once, still in progress; IIM-0004 with clinical data only. Every study has a STIR
and a T1 series, so every grade maps to a series.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analytics.recompute import cohort_analyses_recompute
from cohorts.models import Cohort, ImagingStudy, Series
from scoring.models import CohortProtocol, Read, ScoringProtocol
from scoring.services import read_assign, read_record_complete
from tests import factories

PATIENTS = [
    # pseudonym, subtype, sex, age, ck, mmt8, duration, naive
    ("IIM-0001", "DM", "F", 61, 2400, 118, Decimal("4.5"), True),
    ("IIM-0002", "IBM", "M", 74, 380, 131, Decimal("30.0"), False),
    ("IIM-0003", "IMNM", "F", 55, 9100, 102, Decimal("2.0"), None),
    ("IIM-0004", "ASYS", "M", 66, None, None, None, None),
]
NA_MUSCLE = "supinator"  # graded NA on both sides and sequences in every read


def grade_for(seed: int, index: int, side: str, sequence: str) -> str:
    """A deterministic grade per read seed and cell."""
    return str((seed + index + (side == "L") + 2 * (sequence == "T1")) % 3)


def whole_read_cells(protocol: ScoringProtocol, seed: int) -> dict[tuple[str, str, str], str]:
    cells = {}
    muscles = protocol.muscles.order_by("group__region__order", "group__order", "order")
    for index, muscle in enumerate(muscles):
        for side in ("L", "R"):
            for sequence in protocol.sequences:
                value = "NA" if muscle.slug == NA_MUSCLE else grade_for(seed, index, side, sequence)
                cells[(muscle.slug, side, sequence)] = value
    return cells


def add_patients(cohort: Cohort) -> None:
    """The four patients and their clinical data (site "ukd")."""
    site = factories.SiteFactory(code="ukd", name="University Hospital D")
    cohort.sites.add(site)
    for pseudonym, subtype, sex, age, ck, mmt8, duration, naive in PATIENTS:
        patient = factories.PatientFactory(
            cohort=cohort,
            pseudonym=pseudonym,
            subtype=subtype,
            sex=sex,
            age_at_mri=age,
            site=site,
            antibodies=["Mi-2"] if subtype == "DM" else [],
            seronegative=subtype != "DM",
        )
        if ck is not None:
            factories.AssessmentFactory(
                patient=patient,
                ck=ck,
                mmt8_total=mmt8,
                disease_duration_months=duration,
                treatment_naive=naive,
            )


def add_studies(cohort: Cohort) -> dict[str, ImagingStudy]:
    """A study with a STIR and a T1 series for IIM-0001..0003, as a DICOM import leaves them;
    UIDs are fixed so a rebuilt cohort matches."""
    studies = {}
    for number, (pseudonym, *_clinical) in enumerate(PATIENTS[:3], start=1):
        patient = cohort.patients.get(pseudonym=pseudonym)
        study = ImagingStudy.objects.create(
            patient=patient, timepoint=0, study_uid=f"2.25.9000{number}", field_strength=1.5
        )
        for series_number, sequence in enumerate(("STIR", "T1"), start=1):
            Series.objects.create(
                study=study,
                series_uid=f"2.25.9000{number}.{series_number}",
                series_number=series_number,
                sequence=sequence,
                sequence_detected=sequence,
            )
        studies[pseudonym] = study
    return studies


def add_reads(studies: dict[str, ImagingStudy], readers: dict[str, object]) -> None:
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    plan = [
        ("IIM-0001", "radiologist", Read.Kind.PRIMARY, 0, True),
        ("IIM-0001", "other_radiologist", Read.Kind.SECOND, 1, True),
        ("IIM-0001", "consensus_reader", Read.Kind.CONSENSUS, 2, True),
        ("IIM-0002", "radiologist", Read.Kind.PRIMARY, 1, True),
        ("IIM-0003", "radiologist", Read.Kind.PRIMARY, 2, False),
    ]
    for pseudonym, reader, kind, seed, complete in plan:
        read = read_assign(
            study=studies[pseudonym],
            protocol=protocol,
            reader=readers[reader],
            actor=None,
            kind=kind,
        )
        cells = whole_read_cells(protocol, seed)
        if not complete:
            cells = dict(list(cells.items())[:40])
        read_record_complete(read=read, cells=cells, actor=None, reason="test", submit=complete)


def new_cohort(slug: str) -> Cohort:
    cohort = factories.CohortFactory(slug=slug, title=f"Cohort {slug}")
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    CohortProtocol.objects.create(cohort=cohort, protocol=protocol)
    return cohort


def build_scored_cohort(*, slug: str, readers: dict[str, object]) -> Cohort:
    """The cohort of this module's docstring, with its read scores and analyses stored."""
    cohort = new_cohort(slug)
    add_patients(cohort)
    add_reads(add_studies(cohort), readers)
    cohort_analyses_recompute(cohort_id=cohort.pk, force=True)
    return cohort


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are made per test; Argon2 would spend most of the suite hashing one password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def consensus_reader(db):
    return factories.user_with_role("radiologist", username="consensus_reader")


@pytest.fixture
def readers(radiologist, other_radiologist, consensus_reader):
    return {
        "radiologist": radiologist,
        "other_radiologist": other_radiologist,
        "consensus_reader": consensus_reader,
    }


@pytest.fixture
def scored_cohort(readers, statistician, clinician, coordinator) -> Cohort:
    """The cohort of this module's docstring; the clinical personas are its members."""
    built = build_scored_cohort(slug="scored", readers=readers)
    for user in (statistician, clinician, coordinator):
        built.memberships.create(user=user)
    return built


def token_client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def statistician_client(statistician) -> APIClient:
    return token_client(statistician)


@pytest.fixture
def radiologist_client(radiologist) -> APIClient:
    return token_client(radiologist)


def body(response) -> bytes:
    """The bytes of a response, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content
