"""Coordinators assign reads in bulk (double reading, consensus, re-reads), see a read's audit
trail and the cohort's amendments; nobody else can."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scoring.models import Read, ScoringProtocol
from scoring.selectors import reads_for_reader
from tests import factories

pytestmark = pytest.mark.django_db


def study_with_images(cohort, sequences=("STIR", "T1")):
    """A study with one image row per sequence (no file needed: assignment only counts them)."""
    from cohorts.models import Instance, Series

    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    for sequence in sequences:
        series = Series.objects.create(
            study=study, series_uid=f"{study.study_uid}.{len(sequence)}", sequence=sequence
        )
        Instance.objects.create(
            series=series, sop_instance_uid=f"{series.series_uid}.1", file="x.dcm"
        )
    return study


@pytest.fixture
def studies(cohort):
    return [study_with_images(cohort) for _ in range(10)]


def test_bulk_assignment_with_double_reading_consensus_and_rereads(
    client,
    coordinator,
    cohort,
    studies,
):
    readers = [factories.user_with_role("radiologist", username=f"r{i}") for i in range(3)]
    client.force_login(coordinator)
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    response = client.post(
        reverse("scoring:assign", args=[cohort.slug]),
        {
            "protocol": protocol.pk,
            "readers": [readers[0].pk, readers[1].pk],
            "double_reading": "on",
            "consensus_reader": readers[2].pk,
            "reread_percent": 20,
            "reread_after_days": 28,
            "confirm": "yes",
        },
    )
    assert response.status_code == 302
    reads = Read.objects.filter(study__patient__cohort=cohort)
    assert reads.filter(kind="primary").count() == 10
    assert reads.filter(kind="second").count() == 10
    assert reads.filter(kind="consensus", reader=readers[2]).count() == 10
    rereads = reads.filter(kind="reread")
    assert rereads.count() == 2
    for reread in rereads:
        assert reread.reader_id == reread.rereads.reader_id
        assert reread.not_before > timezone.now() + timedelta(days=27)
        # Not on the worklist yet; when it appears it is a new case with its own blind label.
        assert reread not in reads_for_reader(reader=reread.reader)
        assert reread.blind_label != reread.rereads.blind_label
    for study in studies:
        two = reads.filter(study=study, kind__in=["primary", "second"])
        assert len({r.reader_id for r in two}) == 2
    from cohorts.models import AuditEvent

    assert AuditEvent.objects.filter(action="read.assign", cohort=cohort).count() == 32


def test_assignment_form_refuses_a_consensus_reader_without_double_reading(
    client,
    coordinator,
    cohort,
    studies,
):
    reader = factories.user_with_role("radiologist", username="solo")
    other = factories.user_with_role("radiologist", username="other")
    client.force_login(coordinator)
    response = client.post(
        reverse("scoring:assign", args=[cohort.slug]),
        {
            "protocol": ScoringProtocol.objects.get(slug="thigh-only").pk,
            "readers": [reader.pk],
            "consensus_reader": other.pk,
            "reread_percent": 10,
            "reread_after_days": 28,
        },
    )
    assert response.status_code == 200
    assert "A consensus read needs double reading." in response.content.decode()
    assert not Read.objects.exists()


def test_read_audit_trail_and_amendments_are_for_coordinators(
    client,
    coordinator,
    clinician,
    radiologist,
    cohort,
):
    from scoring.models import Muscle
    from scoring.services import CellChange, read_amend, read_assign, read_record_complete

    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    read = read_assign(study=study, protocol=protocol, reader=radiologist, actor=coordinator)
    cells = {
        (m.slug, s, q): "0" for m in protocol.muscles.all() for s in "LR" for q in ("STIR", "T1")
    }
    read = read_record_complete(read=read, cells=cells, actor=radiologist, reason="", submit=True)
    read_amend(
        read=read,
        changes=[CellChange(Muscle.objects.get(slug="gracilis"), "L", "T1", "2")],
        actor=radiologist,
        reason="fat missed",
        expected_version=read.version,
    )
    client.force_login(coordinator)
    audit = client.get(reverse("scoring:read-audit", args=[read.pk]))
    assert audit.status_code == 200 and "fat missed" in audit.content.decode()
    amendments = client.get(reverse("scoring:amendments", args=[cohort.slug]))
    assert "fat missed" in amendments.content.decode()
    for user in (clinician, radiologist):
        client.force_login(user)
        assert client.get(reverse("scoring:read-audit", args=[read.pk])).status_code == 404
        assert client.get(reverse("scoring:amendments", args=[cohort.slug])).status_code == 403
