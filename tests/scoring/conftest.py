"""A read of a small study for reading tests."""

from __future__ import annotations

import pytest

from scoring.models import ScoringProtocol
from scoring.services import read_assign
from tests import factories


@pytest.fixture
def thigh_protocol(db):
    return ScoringProtocol.objects.get(slug="thigh-only")


@pytest.fixture
def case(db, cohort):
    """A patient with telling details that must never reach a reader."""
    site = factories.SiteFactory(code="zz-secret-site", name="Secret Site Hospital")
    patient = factories.PatientFactory(
        cohort=cohort, pseudonym="IIM-7777", subtype="IMNM", site=site
    )
    factories.AssessmentFactory(patient=patient, ck=98765, mmt8_total=111)
    return factories.StudyFactory(patient=patient)


@pytest.fixture
def read(case, radiologist, thigh_protocol):
    return read_assign(study=case, protocol=thigh_protocol, reader=radiologist, actor=None)
