"""A full recompute hands the read scores it stored to the analyses instead of reading them
back: what it hands over must be exactly what Postgres would give back, and the results the
same as from the stored copy. A grade change then rewrites only the changed patient rows."""

from __future__ import annotations

from io import StringIO

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

from analytics import analyses, recompute
from analytics.models import AnalysisResult, ReadScores
from analytics.result_rows import stored_result_value
from cohorts.models import Cohort
from scoring.models import Grade, Read
from scoring.services import CellChange, read_amend

pytestmark = pytest.mark.django_db

READ_BACK_SQL = (
    "SELECT read_id, fingerprint, computed_at::text, (SELECT jsonb_object_agg(k, v - 'muscle')"
    " FROM jsonb_each(scores) AS e(k, v))::text FROM analytics_readscores"
)


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--no-images", stdout=StringIO())
    return Cohort.objects.get(slug="demo-iim")


def test_scores_handed_to_the_analyses_are_those_postgres_gives_back(demo, monkeypatch):
    monkeypatch.setattr(recompute, "COPY_MIN_READS", 0)  # the demo's few reads take the COPY path
    handed: dict = {}

    def forget() -> None:
        handed.update(analyses._just_stored)
        analyses.forget_stored_scores()

    monkeypatch.setattr(recompute, "forget_stored_scores", forget)
    ReadScores.objects.all().delete()
    analyses._frames_cache.clear()
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    with connection.cursor() as cursor:
        cursor.execute(READ_BACK_SQL)
        stored = cursor.fetchall()
    assert len(handed) == len(stored) == ReadScores.objects.count() > 0
    for read_id, fingerprint, written, text in stored:
        assert handed[read_id][:2] == (fingerprint, written)
        # Same text: same keys in the same order, same numbers.
        assert orjson.dumps(handed[read_id][2]) == orjson.dumps(orjson.loads(text))
    # And the stored results equal those computed from the stored copy.
    analyses._frames_cache.clear()
    analyses._results_cache.clear()
    params = recompute.analysis_parameters()
    again = orjson.loads(
        orjson.dumps(
            analyses.compute_analyses(demo, params),
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        )
    )
    key = recompute.parameters_key(params)
    for result in AnalysisResult.objects.filter(cohort=demo, parameters_key=key):
        if result.analysis in again:
            assert stored_result_value(result) == again[result.analysis], result.analysis


def _stored_rows(result: AnalysisResult) -> dict[tuple[str, int], tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scope, position, id, row::text FROM analytics_patientscorerow"
            " WHERE result_id = %s",
            [result.pk],
        )
        return {(scope, position): (pk, text) for scope, position, pk, text in cursor.fetchall()}


def test_a_grade_change_rewrites_only_the_changed_patients_rows(demo):
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    key = recompute.parameters_key(recompute.analysis_parameters())
    stored = AnalysisResult.objects.get(cohort=demo, analysis="patient_scores", parameters_key=key)
    before = _stored_rows(stored)
    read = _amend_one_stir_grade(demo)
    recompute.cohort_analyses_recompute(cohort_id=demo.pk)
    after = _stored_rows(stored)
    # The same rows, updated in place: only the amended patient's rows in the scopes a STIR
    # grade feeds (unified and STIR-only) have new text.
    assert {k: pk for k, (pk, _) in after.items()} == {k: pk for k, (pk, _) in before.items()}
    changed = {k for k in after if after[k][1] != before[k][1]}
    assert {scope for scope, _ in changed} == {"unified", "stir"}
    pseudonym = read.study.patient.pseudonym
    assert {orjson.loads(after[k][1])["pseudonym"] for k in changed} == {pseudonym}
    # And what is stored is what a computation from scratch gives.
    analyses._frames_cache.clear()
    analyses._results_cache.clear()
    fresh = analyses.compute_analyses(demo, recompute.analysis_parameters())["patient_scores"]
    assert stored_result_value(stored) == orjson.loads(
        orjson.dumps(fresh, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    )


def _amend_one_stir_grade(cohort: Cohort) -> Read:
    """Raise a STIR grade 0 -> 2 where it moves the patient's analysed scores: a baseline
    read that is not a re-read nor outweighed by a consensus read, with T1 0 on that side
    (so the unified grade moves too)."""
    candidates = (
        Grade.objects.filter(
            read__study__patient__cohort=cohort,
            read__status=Read.Status.SUBMITTED,
            sequence="STIR",
            value="0",
        )
        .exclude(read__kind=Read.Kind.REREAD)
        .select_related("read__study__patient", "muscle")
        .order_by("pk")
    )
    for grade in candidates:
        read, study = grade.read, grade.read.study
        baseline = study.patient.studies.order_by("timepoint").first()
        consensus = Read.objects.filter(
            study=study, status=Read.Status.SUBMITTED, kind=Read.Kind.CONSENSUS
        )
        t1_zero = Grade.objects.filter(
            read=read, muscle=grade.muscle, side=grade.side, sequence="T1", value="0"
        )
        if (
            study.pk == baseline.pk
            and (read.kind == Read.Kind.CONSENSUS or not consensus.exists())
            and t1_zero.exists()
        ):
            break
    else:
        raise AssertionError("the demo has no grade whose change moves the analysed scores")
    read_amend(
        read=read,
        changes=[CellChange(grade.muscle, grade.side, "STIR", "2")],
        actor=None,
        reason="test: one grade change",
        expected_version=read.version,
    )
    return read


def _forget_everything() -> None:
    """What a freshly started worker process knows: nothing."""
    analyses._frames_cache.clear()
    analyses._results_cache.clear()
    recompute._stored_memo.clear()


def test_a_warmed_worker_patches_its_first_change_in(demo, monkeypatch):
    monkeypatch.setattr("analytics.services._queue", lambda *args, **kwargs: True)
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    key = recompute.parameters_key(recompute.analysis_parameters())
    stored = AnalysisResult.objects.get(cohort=demo, analysis="patient_scores", parameters_key=key)
    _forget_everything()
    assert recompute.recently_computed_cohorts() == [demo]
    assert recompute.cohort_analyses_warm(demo) is True
    before = _stored_rows(stored)
    read = _amend_one_stir_grade(demo)
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk) == "done"
    after = _stored_rows(stored)
    assert {k: pk for k, (pk, _) in after.items()} == {k: pk for k, (pk, _) in before.items()}
    changed = {orjson.loads(after[k][1])["pseudonym"] for k in after if after[k] != before[k]}
    assert changed == {read.study.patient.pseudonym}


def test_a_warm_up_after_an_unrecomputed_change_takes_no_rows_as_known(demo, monkeypatch):
    monkeypatch.setattr("analytics.services._queue", lambda *args, **kwargs: True)
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    _amend_one_stir_grade(demo)
    recompute.cohort_read_scores_refresh(demo)  # new read scores, results not recomputed yet
    _forget_everything()
    # The stored rows are older than the analyses it computes: patching them would be wrong.
    assert recompute.cohort_analyses_warm(demo) is False
    assert not recompute._stored_memo
