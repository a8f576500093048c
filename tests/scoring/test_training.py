"""Training mode (issue 23, item 5): a coordinator marks an expert's reads as references, a
trainee reads them as training cases that are never analysed, and after submitting sees the
agreement per cell, per group and as weighted kappa (checked with scikit-learn), with a
learning curve over the cases."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient
from sklearn.metrics import cohen_kappa_score

from analytics.recompute import cohort_analyses_recompute
from analytics.training import training_curve
from cohorts.models import AuditEvent
from scoring.models import Read, ScoringProtocol
from scoring.selectors import training_feedback
from scoring.services import (
    read_assign,
    read_record_complete,
    read_reference_set,
    training_assign,
)
from tests import factories

pytestmark = pytest.mark.django_db

VENTRAL = ["rectus-femoris", "vastus-lateralis", "vastus-intermedius", "vastus-medialis"]
VENTRAL += ["sartorius"]


@pytest.fixture
def thigh() -> ScoringProtocol:
    return ScoringProtocol.objects.get(slug="thigh-only")


def _cells(protocol, grade) -> dict:
    muscles = protocol.muscles.order_by("group__order", "order").values_list("slug", flat=True)
    return {
        (m, side, seq): grade(i, m, side, seq)
        for i, m in enumerate(muscles)
        for side in "LR"
        for seq in ("STIR", "T1")
    }


def expert_grade(i, _m, side, seq):
    return str((i + (side == "R") + (seq == "T1")) % 3)


@pytest.fixture
def references(cohort, thigh):
    """Two studies read by an expert, both marked as references."""
    expert = factories.user_with_role("radiologist", username="expert", cohort=cohort)
    coordinator = factories.user_with_role("coordinator", username="coord", cohort=cohort)
    reads = []
    for _ in range(2):
        patient = factories.PatientFactory(cohort=cohort, subtype="DM")
        factories.AssessmentFactory(patient=patient)
        study = factories.StudyFactory(patient=patient)
        read = read_assign(study=study, protocol=thigh, reader=expert, actor=None)
        read = read_record_complete(
            read=read, cells=_cells(thigh, expert_grade), actor=None, reason="t", submit=True
        )
        reads.append(read_reference_set(read=read, is_reference=True, actor=coordinator))
    return reads


def _submit_training(read: Read, grade) -> Read:
    return read_record_complete(
        read=read, cells=_cells(read.protocol, grade), actor=None, reason="t", submit=True
    )


def test_only_a_submitted_read_becomes_a_reference_and_it_is_audited(references, cohort, thigh):
    assert AuditEvent.objects.filter(action="read.reference").count() == 2
    study = factories.StudyFactory(patient=references[0].study.patient, timepoint=1)
    other = factories.user_with_role("radiologist", username="other", cohort=cohort)
    open_read = read_assign(study=study, protocol=thigh, reader=other, actor=None)
    with pytest.raises(ValidationError):
        read_reference_set(read=open_read, is_reference=True, actor=None)


def test_training_reads_are_never_analysed_or_exported(references, cohort, statistician):
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    client = APIClient()
    client.force_authenticate(statistician)
    url = f"/api/v1/cohorts/{cohort.slug}/analytics/?analysis=patient_scores"
    before = client.get(url).json()["results"][0]["result"]["unified"]

    trainee = factories.user_with_role("radiologist", username="trainee", cohort=cohort)
    coordinator = factories.user_with_role("coordinator", username="coord2", cohort=cohort)
    reads = training_assign(references=references, trainee=trainee, actor=coordinator)
    assert [r.kind for r in reads] == [Read.Kind.TRAINING] * 2
    assert [r.reference for r in reads] == references
    for read in reads:
        _submit_training(read, lambda *_: "2")  # far from the expert: would move the totals
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    assert client.get(url).json()["results"][0]["result"]["unified"] == before

    response = client.get(f"/api/v1/cohorts/{cohort.slug}/export/grades/?format=csv")
    grades = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert set(grades["reader"]) == {"expert"}
    # The expert is never their own trainee: the study is theirs already.
    expert = references[0].reader
    with pytest.raises(ValidationError):
        training_assign(references=[references[0]], trainee=expert, actor=coordinator)


def test_feedback_after_submission_per_cell_group_and_weighted_kappa(references, cohort):
    trainee = factories.user_with_role("radiologist", username="trainee", cohort=cohort)
    first, second = training_assign(references=references, trainee=trainee, actor=None)
    assert training_feedback(first) is None  # nothing before submission

    # Case 1: one step off on every ventral-thigh STIR cell; case 2: identical to the expert.
    def trainee_grade(i, m, side, seq):
        expert = int(expert_grade(i, m, side, seq))
        return str(min(expert + 1, 2)) if (m in VENTRAL and seq == "STIR") else str(expert)

    first = _submit_training(first, trainee_grade)
    second = _submit_training(second, expert_grade)
    feedback = training_feedback(first)
    expert = _cells(first.protocol, expert_grade)
    mine = _cells(first.protocol, trainee_grade)
    differing = {cell for cell in expert if expert[cell] != mine[cell]}
    assert feedback.n == 52 and feedback.exact == 52 - len(differing)
    ventral = next(g for g in feedback.groups if g["name"] == "Ventral thigh")
    assert ventral["n"] == 20 and ventral["exact"] == 20 - len(differing)
    assert {g["name"] for g in feedback.groups if g["exact"] < g["n"]} == {"Ventral thigh"}

    cases = training_curve(trainee=trainee, cohort=cohort)
    assert [case.read.pk for case in cases] == [first.pk, second.pk]
    stir = next(s for s in cases[0].sequences if s.sequence == "STIR")
    cells = sorted(c for c in expert if c[2] == "STIR")
    reference = cohen_kappa_score(
        [int(mine[c]) for c in cells],
        [int(expert[c]) for c in cells],
        labels=[0, 1, 2],
        weights="linear",
    )
    assert stir.n_pairs == 26 and stir.kappa_linear == pytest.approx(reference, rel=1e-12)
    assert stir.exact == pytest.approx((26 - len(differing)) / 26)
    assert all(s.kappa_linear == pytest.approx(1.0) for s in cases[1].sequences)


def test_the_trainee_page_and_the_coordinators_page(references, cohort, client):
    trainee = factories.user_with_role("radiologist", username="trainee", cohort=cohort)
    coordinator = factories.user_with_role(
        "coordinator", username="coord", cohort=cohort, staff=True
    )
    client.force_login(coordinator)
    url = reverse("analytics:cohort-training", args=[cohort.slug])
    response = client.post(
        url,
        {"action": "assign", "trainee": trainee.pk, "references": [r.pk for r in references]},
    )
    assert response.status_code == 302
    (read, _second) = Read.objects.filter(reader=trainee).order_by("pk")
    _submit_training(read, expert_grade)
    page = client.get(url)
    assert page.status_code == 200
    (row,) = page.context["trainees"]
    assert row["user"] == trainee and row["open"] == 1 and len(row["cases"]) == 1
    assert json.loads(row["figure"])["data"][0]["y"] == [pytest.approx(1.0)]

    client.force_login(trainee)
    assert client.get(url).status_code == 403
    mine = client.get(reverse("analytics:my-training"))
    assert mine.status_code == 200
    html = mine.content.decode()
    assert read.blind_label in html and references[0].study.patient.pseudonym not in html
    read_page = client.get(reverse("scoring:read", args=[read.token])).content.decode()
    assert 'id="training-feedback"' in read_page and "52 of 52 cells" in read_page
    clinician = factories.user_with_role("clinician", username="clin", cohort=cohort)
    client.force_login(clinician)
    assert client.get(reverse("analytics:my-training")).status_code == 403
