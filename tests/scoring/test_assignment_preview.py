"""Bulk assignment shows a preview first (reads to create, studies skipped for want of images)
and never gives a reader a second read of a study except an explicit re-read (issue 22)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cohorts.models import AuditEvent
from scoring.models import Read, ScoringProtocol
from scoring.services import (
    READER_HOLDS_STUDY,
    AssignmentPlan,
    read_assign,
    reads_assign_bulk,
)
from tests import factories
from tests.scoring.test_coordinator_pages import study_with_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def protocol(db):
    return ScoringProtocol.objects.get(slug="thigh-only")


@pytest.fixture
def readers(db):
    return [factories.user_with_role("radiologist", username=f"reader{i}") for i in range(2)]


def _form(protocol, readers, **extra):
    return {
        "protocol": protocol.pk,
        "readers": [r.pk for r in readers],
        "reread_percent": 0,
        "reread_after_days": 28,
        **extra,
    }


def test_the_first_post_previews_and_writes_nothing(client, coordinator, cohort, protocol, readers):
    for _ in range(3):
        study_with_images(cohort)
    bare = factories.StudyFactory(
        patient=factories.PatientFactory(cohort=cohort, pseudonym="IIM-0099")
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("scoring:assign", args=[cohort.slug]), _form(protocol, readers, double_reading="on")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "6 reads</strong> to create" in html  # 3 studies × (primary + second)
    assert "1 study skipped for want of images: IIM-0099 t0" in html
    assert 'name="confirm" value="yes"' in html
    assert not Read.objects.exists()
    assert not AuditEvent.objects.filter(action="read.assign").exists()
    assert bare.reads.count() == 0


def test_confirming_creates_what_the_preview_showed(client, coordinator, cohort, protocol, readers):
    for _ in range(3):
        study_with_images(cohort)
    factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    client.force_login(coordinator)
    data = _form(protocol, readers, double_reading="on", confirm="yes")
    response = client.post(reverse("scoring:assign", args=[cohort.slug]), data)
    assert response.status_code == 302
    assert Read.objects.count() == 6
    assert not Read.objects.filter(study__series__isnull=True).exists()


def test_a_second_run_with_the_readers_swapped_gives_nobody_a_study_twice(
    cohort, protocol, readers
):
    # The probe: a reader got primary reads of studies they already held as second reader.
    for _ in range(7):
        study_with_images(cohort)
    first = reads_assign_bulk(
        cohort=cohort,
        protocol=protocol,
        plan=AssignmentPlan(readers=readers, double_reading=True, reread_fraction=0),
        actor=None,
    )
    assert len(first) == 14
    again = reads_assign_bulk(
        cohort=cohort,
        protocol=protocol,
        plan=AssignmentPlan(readers=readers[::-1], double_reading=True, reread_fraction=0),
        actor=None,
    )
    assert again == []
    for study_id in {r.study_id for r in first}:
        held = list(Read.objects.filter(study_id=study_id).values_list("reader_id", flat=True))
        assert len(held) == len(set(held)) == 2


def test_a_single_assignment_refuses_a_second_read_but_allows_an_explicit_reread(
    cohort, protocol, readers
):
    study = study_with_images(cohort)
    primary = read_assign(study=study, protocol=protocol, reader=readers[0], actor=None)
    with pytest.raises(ValidationError) as refused:
        read_assign(
            study=study, protocol=protocol, reader=readers[0], actor=None, kind=Read.Kind.SECOND
        )
    assert refused.value.messages == [READER_HOLDS_STUDY]
    reread = read_assign(
        study=study,
        protocol=protocol,
        reader=readers[0],
        actor=None,
        kind=Read.Kind.REREAD,
        rereads=primary,
    )
    assert reread.kind == Read.Kind.REREAD
