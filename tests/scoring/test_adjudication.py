"""Adjudication of double reads (issue 23, item 4): the discordant cells are listed for the
coordinator, given to a third radiologist who sees only them with Reader A's and Reader B's
grades, and the submitted result is the consensus read the analyses use; agreement keeps the
two reads. Expected scores are worked out here from DESIGN.md's definitions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.beyond import cohort_beyond_recompute
from analytics.models import AnalysisResult
from analytics.recompute import cohort_analyses_recompute
from cohorts.models import AuditEvent
from scoring.models import CohortProtocol, Grade, Read, ScoringProtocol
from scoring.selectors import study_discordance
from scoring.services import (
    CellChange,
    adjudication_assign,
    grades_set,
    read_assign,
    read_record_complete,
    read_submit,
)
from tests import factories

pytestmark = pytest.mark.django_db

RF_R_STIR = ("rectus-femoris", "R", "STIR")  # A 1, B 2: one step
VL_L_T1 = ("vastus-lateralis", "L", "T1")  # A 1, B 0: one step
GRACILIS_R_STIR = ("gracilis", "R", "STIR")  # A 1, B NA
ST_R_T1 = ("semitendinosus", "R", "T1")  # A 0, B 2: two steps
READER_A = {ST_R_T1: "0"}
READER_B = {RF_R_STIR: "2", VL_L_T1: "0", GRACILIS_R_STIR: "NA", ST_R_T1: "2"}


@pytest.fixture
def thigh() -> ScoringProtocol:
    return ScoringProtocol.objects.get(slug="thigh-only")


def _cells(protocol: ScoringProtocol, exceptions: dict) -> dict:
    muscles = protocol.muscles.values_list("slug", flat=True)
    cells = {(m, side, seq): "1" for m in muscles for side in "LR" for seq in ("STIR", "T1")}
    return {**cells, **exceptions}


@pytest.fixture
def double_read(cohort, thigh):
    """One study read by two radiologists (primary and second), both submitted."""
    CohortProtocol.objects.create(cohort=cohort, protocol=thigh)
    patient = factories.PatientFactory(cohort=cohort, subtype="DM")
    factories.AssessmentFactory(patient=patient)
    study = factories.StudyFactory(patient=patient)
    for username, kind, exceptions in (
        ("anna-first", Read.Kind.PRIMARY, READER_A),
        ("bert-second", Read.Kind.SECOND, READER_B),
    ):
        reader = factories.user_with_role("radiologist", username=username, cohort=cohort)
        read = read_assign(study=study, protocol=thigh, reader=reader, actor=None, kind=kind)
        read_record_complete(
            read=read, cells=_cells(thigh, exceptions), actor=None, reason="test", submit=True
        )
    return study


def test_discordant_cells_follow_the_threshold(double_read, cohort):
    discordance = study_discordance(study=double_read)
    assert set(discordance.discordant) == {RF_R_STIR, VL_L_T1, GRACILIS_R_STIR, ST_R_T1}
    CohortProtocol.objects.filter(cohort=cohort).update(adjudication_min_difference=2)
    discordance = study_discordance(study=double_read)
    # One step apart is not discordant at 2; NA against a grade always is.
    assert set(discordance.discordant) == {GRACILIS_R_STIR, ST_R_T1}
    agreed = discordance.agreed()
    assert agreed[RF_R_STIR] == "1" and agreed[VL_L_T1] == "1"  # Reader A's grade
    assert len(agreed) == 52 - 2


def test_the_adjudicated_consensus_read_is_what_the_analyses_use(double_read, cohort, thigh):
    coordinator = factories.user_with_role("coordinator", username="coord", cohort=cohort)
    adjudicator = factories.user_with_role("radiologist", username="adjudicator", cohort=cohort)
    reader_a = Read.objects.get(study=double_read, kind=Read.Kind.PRIMARY).reader
    with pytest.raises(ValidationError):  # a reader of the study never adjudicates it
        adjudication_assign(study=double_read, adjudicator=reader_a, actor=coordinator)

    read = adjudication_assign(study=double_read, adjudicator=adjudicator, actor=coordinator)
    assert read.kind == Read.Kind.CONSENSUS and read.status == Read.Status.IN_PROGRESS
    cells = {tuple(c[:3]): (c[3], c[4]) for c in read.adjudication["cells"]}
    assert cells == {
        RF_R_STIR: ("1", "2"),
        VL_L_T1: ("1", "0"),
        GRACILIS_R_STIR: ("1", "NA"),
        ST_R_T1: ("0", "2"),
    }
    # The other 48 cells hold the readers' grade, each with its audit row.
    prefilled = Grade.objects.filter(read=read)
    assert prefilled.count() == 48 and set(prefilled.values_list("value", flat=True)) == {"1"}
    events = AuditEvent.objects.filter(action="grade.set", reason__startswith="adjudication")
    assert events.count() == 48
    assert AuditEvent.objects.filter(action="read.adjudication_assign").count() == 1
    with pytest.raises(ValidationError):  # assigned once
        adjudication_assign(study=double_read, adjudicator=adjudicator, actor=coordinator)

    decisions = {RF_R_STIR: "2", VL_L_T1: "0", GRACILIS_R_STIR: "1", ST_R_T1: "1"}
    read = grades_set(
        read=read,
        changes=[CellChange(*cell, value) for cell, value in decisions.items()],
        actor=adjudicator,
        expected_version=None,
    )
    read_submit(read=read, actor=adjudicator, expected_version=None)

    # The consensus read alone: unified = max(STIR, T1) per side, the muscle the mean of its
    # sides, the total their sum. Rectus femoris: (max(2, 1) + 1) / 2; every other muscle 1.
    consensus = _cells(thigh, decisions)
    total = Fraction(0)
    for muscle in thigh.muscles.values_list("slug", flat=True):
        sides = [max(int(consensus[(muscle, s, q)]) for q in ("STIR", "T1")) for s in "LR"]
        total += Fraction(sum(sides), 2)
    assert total == Fraction(27, 2)
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    statistician = factories.user_with_role("statistician", username="stat", cohort=cohort)
    client = APIClient()
    client.force_authenticate(statistician)
    response = client.get(f"/api/v1/cohorts/{cohort.slug}/analytics/?analysis=patient_scores")
    (row,) = response.json()["results"][0]["result"]["unified"]
    assert row["total"] == float(total)

    # Agreement is the two readers' reads: one pair, never the consensus read.
    assert cohort_beyond_recompute(cohort_id=cohort.pk, force=True) == "done"
    inter = AnalysisResult.objects.get(cohort=cohort, analysis="beyond_paper").result["agreement"][
        "inter"
    ]
    assert inter["n_pairs"] == 1


def test_the_coordinator_page_lists_and_assigns_and_readers_may_not(double_read, cohort, client):
    coordinator = factories.user_with_role(
        "coordinator", username="coord", cohort=cohort, staff=True
    )
    adjudicator = factories.user_with_role("radiologist", username="adjudicator", cohort=cohort)
    url = reverse("scoring:adjudication", args=[cohort.slug])
    client.force_login(Read.objects.filter(study=double_read).first().reader)
    assert client.get(url).status_code == 403
    client.force_login(coordinator)
    page = client.get(url).content.decode()
    assert "4 of 52" in page and "semitendinosus" in page
    response = client.post(url, {"action": "threshold", "min_difference": "2"})
    assert response.status_code == 302
    assert "2 of 52" in client.get(url).content.decode()
    refused = client.post(url, {"action": "threshold", "min_difference": "0"}, follow=True)
    assert "whole number 1–5" in refused.content.decode()
    response = client.post(
        url, {"action": "assign", "study": double_read.pk, "adjudicator": adjudicator.pk}
    )
    assert response.status_code == 302
    read = Read.objects.get(study=double_read, kind=Read.Kind.CONSENSUS)
    assert read.reader == adjudicator and len(read.adjudication["cells"]) == 2


def test_the_adjudicators_page_shows_only_the_cells_to_decide_and_no_names(
    double_read, cohort, client
):
    coordinator = factories.user_with_role("coordinator", username="coord", cohort=cohort)
    adjudicator = factories.user_with_role("radiologist", username="adjudicator", cohort=cohort)
    read = adjudication_assign(study=double_read, adjudicator=adjudicator, actor=coordinator)
    client.force_login(adjudicator)
    response = client.get(reverse("scoring:read", args=[read.token]))
    html = response.content.decode()
    rows = response.context["rows"]
    assert [row["muscle"].slug for row in rows] == [
        "rectus-femoris",
        "vastus-lateralis",
        "gracilis",
        "semitendinosus",
    ]
    decide = [(r["muscle"].slug, c["side"], c["sequence"]) for r in rows for c in r["to_decide"]]
    assert set(decide) == {RF_R_STIR, VL_L_T1, GRACILIS_R_STIR, ST_R_T1}
    assert html.count('class="cell"') == 4  # the only gradable cells
    assert "R STIR: A 1 · B 2" in html and "R T1: A 0 · B 2" in html
    assert 'id="total-count">4<' in html
    for secret in ("anna-first", "bert-second", double_read.patient.pseudonym):
        assert secret not in html
