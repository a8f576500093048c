"""What each role tripped over (issue 22, item 7), server side: the audit trail names muscle,
side, sequence and old → new; submitted reads are listed and open read-only; plurals; a
statistician's token page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from cohorts.models import AuditEvent
from scoring.models import Muscle, ScoringProtocol
from scoring.services import CellChange, grades_set, read_assign, read_record_complete
from tests import factories

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_audit_trail_names_muscle_side_sequence_and_old_to_new(
    client, coordinator, radiologist, cohort
):
    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    read = read_assign(study=study, protocol=protocol, reader=radiologist, actor=coordinator)
    gracilis = Muscle.objects.get(slug="gracilis")
    read = grades_set(
        read=read,
        changes=[CellChange(gracilis, "R", "STIR", "1")],
        actor=radiologist,
        expected_version=0,
    )
    grades_set(
        read=read,
        changes=[CellChange(gracilis, "R", "STIR", "0")],
        actor=radiologist,
        expected_version=read.version,
    )
    client.force_login(coordinator)
    page = _text(client.get(reverse("scoring:read-audit", args=[read.pk])))
    assert "Gracilis · right · STIR" in page
    assert "– → 1" in page and "1 → 0" in page
    assert "scoring.grade #" not in page


def test_a_submitted_read_is_listed_with_a_link_that_opens_it(client, radiologist, cohort):
    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    read = read_assign(study=study, protocol=protocol, reader=radiologist, actor=None)
    cells = {
        (m.slug, s, q): "0" for m in protocol.muscles.all() for s in "LR" for q in ("STIR", "T1")
    }
    read_record_complete(read=read, cells=cells, actor=radiologist, reason="", submit=True)
    client.force_login(radiologist)
    worklist = client.get(reverse("scoring:worklist")).content.decode()
    url = reverse("scoring:read", args=[read.token])
    assert f'href="{url}"' in worklist
    assert client.get(url).status_code == 200


def test_one_assigned_read_is_one_read_not_one_reads(client, coordinator, radiologist, cohort):
    from tests.scoring.test_coordinator_pages import study_with_images

    study_with_images(cohort)
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    client.force_login(coordinator)
    response = client.post(
        reverse("scoring:assign", args=[cohort.slug]),
        {
            "protocol": protocol.pk,
            "readers": [radiologist.pk],
            "reread_percent": 0,
            "reread_after_days": 28,
            "confirm": "yes",
        },
        follow=True,
    )
    text = _text(response)
    assert "1 read assigned" in text
    assert "1 reads" not in text


def test_the_import_summary_counts_in_the_right_number():
    from sheets.imports import ImportSummary

    summary = ImportSummary(kind="patients", rows=1, created={"patients": 1, "assessments": 2})
    assert summary.rows_text == "1 patients row"
    assert summary.counts_text == "1 patient created, 2 clinical assessments"


def test_a_statistician_creates_sees_and_revokes_their_own_token(client, statistician):
    client.force_login(statistician)
    url = reverse("api-token")
    assert "You hold no token." in client.get(url).content.decode()
    created = client.post(url, {"action": "create"}).content.decode()
    token = Token.objects.get(user=statistician)
    assert token.key in created  # shown once, right after creating it
    page = client.get(url).content.decode()
    assert token.key not in page
    assert token.created.strftime("%Y") in page and "token created on" in page
    header = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert client.get("/api/v1/cohorts/", **header).status_code == 200
    client.post(url, {"action": "revoke"})
    assert not Token.objects.filter(user=statistician).exists()
    client.logout()
    assert client.get("/api/v1/cohorts/", **header).status_code in (401, 403)
    events = list(
        AuditEvent.objects.filter(target_type="auth.user").values_list("action", flat=True)
    )
    assert events == ["api_token.create", "api_token.revoke"]
    assert not AuditEvent.objects.filter(new__icontains=token.key).exists()


def test_a_radiologist_has_no_token_page(client, radiologist):
    client.force_login(radiologist)
    assert client.get(reverse("api-token")).status_code == 403
    assert client.post(reverse("api-token"), {"action": "create"}).status_code == 403
    assert not Token.objects.exists()


def test_the_erasure_page_counts_in_the_right_number(client, coordinator, radiologist, cohort):
    patient = factories.PatientFactory(cohort=cohort, pseudonym="IIM-0005")
    study = factories.StudyFactory(patient=patient)
    read_assign(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=radiologist,
        actor=None,
    )
    client.force_login(coordinator)
    page = _text(client.get(reverse("scoring:patient-erase", args=[cohort.slug, "IIM-0005"])))
    assert "1 imaging study" in page and "1 read " in page
    assert "0 clinical assessments" in page
    assert "1 reads" not in page and "1 imaging studies" not in page
