"""A full recompute hands the read scores it stored to the analyses instead of reading them
back: what it hands over must be exactly what Postgres would give back, and the results the
same as from the stored copy."""

from __future__ import annotations

from io import StringIO

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

from analytics import analyses, recompute
from analytics.models import AnalysisResult, ReadScores
from cohorts.models import Cohort

pytestmark = pytest.mark.django_db

READ_BACK_SQL = (
    "SELECT read_id, fingerprint, computed_at::text, (SELECT jsonb_object_agg(k, v - 'muscle')"
    " FROM jsonb_each(scores) AS e(k, v))::text FROM analytics_readscores"
)


@pytest.fixture
def demo(db):  # noqa: ANN001
    if connection.vendor != "postgresql":
        pytest.skip("the hand-over is the Postgres path (SQLite reads the scores back)")
    call_command("seed_demo", "--no-images", stdout=StringIO())
    return Cohort.objects.get(slug="demo-iim")


def test_scores_handed_to_the_analyses_are_those_postgres_gives_back(demo, monkeypatch):  # noqa: ANN001
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
            assert result.result == again[result.analysis], result.analysis
