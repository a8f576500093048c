"""A pseudonym, once given, is never given again, not even after its patient was erased."""

from __future__ import annotations

import pytest

from cohorts.services import next_pseudonym, patient_create
from scoring.erasure import patient_erase

pytestmark = pytest.mark.django_db


def test_the_last_patients_pseudonym_is_not_reused_after_an_erasure(cohort, coordinator):
    created = [patient_create(cohort=cohort, actor=coordinator) for _ in range(3)]
    assert [p.pseudonym for p in created] == ["IIM-0001", "IIM-0002", "IIM-0003"]
    last = created[-1]
    patient_erase(
        patient=last, actor=coordinator, reason="request 2026-17", confirmation=last.pseudonym
    )
    assert next_pseudonym(cohort) == "IIM-0004"
    assert patient_create(cohort=cohort, actor=coordinator).pseudonym == "IIM-0004"
