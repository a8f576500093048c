"""Every hand-written statement (iim_scoring/db/statements.py) has the effect of the ORM
statement it replaces, on the same rows."""

from __future__ import annotations

import json

import pytest
from django.test.utils import isolate_apps

from cohorts.models import AuditEvent
from iim_scoring.db import statements

pytestmark = pytest.mark.django_db


def test_rows_inserted_in_several_batches_each_get_their_own_key(monkeypatch):
    monkeypatch.setattr(statements, "BATCH_ROWS", 2)
    events = [
        AuditEvent(action="test.batch", target_type="x", target_id=str(i), new={"i": i})
        for i in range(5)
    ]
    statements.insert_rows(events)
    stored = {e.pk: (e.target_id, e.new) for e in AuditEvent.objects.filter(action="test.batch")}
    assert {e.pk: (e.target_id, e.new) for e in events} == stored
    assert len(stored) == 5


@isolate_apps("cohorts")
def test_an_insert_names_no_column_the_database_fills_itself():
    from django.db import models

    class Probe(models.Model):
        label = models.CharField(max_length=10, default="x")
        stamped = models.DateTimeField(db_default=models.functions.Now())
        doubled = models.GeneratedField(
            expression=models.F("number") * 2,
            output_field=models.IntegerField(),
            db_persist=True,
        )
        number = models.IntegerField(default=1)

        class Meta:
            app_label = "cohorts"
            managed = False

        def __str__(self) -> str:
            return self.label

    assert [f.name for f in statements.written_fields(Probe)] == ["label", "number"]
    columns, values = statements.row_values(Probe(label="y"))
    assert columns == '"label", "number"' and values == ["y", 1]


def test_a_recompute_request_writes_what_the_orm_would_with_a_new_field_default(
    cohort, monkeypatch
):
    from analytics.models import CohortAnalyticsState
    from analytics.services import _request_recompute

    monkeypatch.setattr("analytics.services._queue", lambda *args, **kwargs: True)
    _request_recompute(cohort.pk)
    stored = CohortAnalyticsState.objects.get(pk=cohort.pk)
    # What the ORM writes for a new state row given the same values; every other column
    # (those a later field would add included) holds the model's default.
    orm = CohortAnalyticsState(
        cohort=cohort,
        stale=True,
        stale_since=stored.stale_since,
        requested_at=stored.requested_at,
        queued_at=stored.queued_at,
    )
    fields = [f.name for f in CohortAnalyticsState._meta.concrete_fields]
    assert {f: getattr(stored, f) for f in fields} == {f: getattr(orm, f) for f in fields}
    assert stored.stale_since == stored.requested_at == stored.queued_at is not None


@pytest.fixture
def graded_reads(cohort):
    """Two reads of one study with a few grades each, NA included."""
    from scoring.models import Grade, Muscle, Read, ScoringProtocol
    from scoring.services import read_assign
    from tests import factories

    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    study = factories.StudyFactory(patient=factories.PatientFactory(cohort=cohort))
    muscles = list(protocol.muscles.order_by("pk")[:3])
    reads = []
    for number, kind in enumerate((Read.Kind.PRIMARY, Read.Kind.SECOND)):
        reader = factories.user_with_role("radiologist", username=f"reader{number}")
        read = read_assign(study=study, protocol=protocol, reader=reader, actor=None, kind=kind)
        for muscle, value in zip(muscles, ("0", "2", "NA"), strict=True):
            Grade.objects.create(read=read, muscle=muscle, side="R", sequence="STIR", value=value)
        reads.append(read)
    assert Muscle.objects.exists()
    return reads


def test_grade_lines_hold_the_rows_the_orm_returns(graded_reads):
    from scoring.models import Grade

    ids = [read.pk for read in graded_reads]
    lines = statements.grade_lines(ids).split("\n")
    orm = Grade.objects.filter(read_id__in=ids).values_list(
        "read_id", "muscle_id", "side", "sequence", "value"
    )
    assert sorted(lines) == sorted("\t".join(map(str, row)) for row in orm)
    assert statements.grade_lines([]) == ""


def test_read_scores_upsert_and_read_back_equal_the_orm(graded_reads):
    import orjson
    from django.utils import timezone

    from analytics.models import ReadScores

    first, second = graded_reads
    payload = {"unified": {"total": 2.0, "total_pct": 50.0, "muscle": {"a": 1}, "group": {}}}
    # An earlier score of the first read, stored by the ORM, is replaced.
    ReadScores.objects.create(read=first, fingerprint="old", scores={}, total=0.0, total_pct=0.0)
    now = timezone.now()
    stored = statements.read_scores_upsert(
        [
            (read.pk, f"fp{read.pk}", 2.0, 50.0, orjson.dumps(payload).decode())
            for read in graded_reads
        ],
        computed_at=now,
    )
    orm = ReadScores.objects.filter(read__in=graded_reads).order_by("read_id")
    assert [(r.read_id, r.fingerprint, r.total, r.total_pct, r.scores) for r in orm] == [
        (read.pk, f"fp{read.pk}", 2.0, 50.0, payload) for read in (first, second)
    ]
    assert all(r.computed_at == now for r in orm)
    assert {row[0] for row in stored} == {first.pk, second.pk}
    back = statements.read_muscle_scores([first.pk, second.pk])
    orm_muscles = {
        read_id: {scope: levels["muscle"] for scope, levels in scores.items()}
        for read_id, scores in ReadScores.objects.values_list("read_id", "scores")
    }
    assert dict(back) == orm_muscles
    assert orm_muscles[first.pk] == {"unified": payload["unified"]["muscle"]}


@pytest.fixture
def stored_result(cohort):
    from analytics.models import AnalysisResult

    return AnalysisResult.objects.create(
        cohort=cohort, analysis="patient_scores", parameters={}, parameters_key="k", result={}
    )


def test_patient_rows_copy_and_reads_equal_the_orm(stored_result):
    from analytics.models import PatientScoreRow

    rows = [
        ("unified", 0, '{"patient_id": 1, "total": 2.5, "ck": 100}'),
        ("unified", 1, '{"patient_id": 2, "total": 0.5, "ck": null}'),
        ("stir", 0, '{"patient_id": 1, "total": 1.0, "ck": 100}'),
    ]
    statements.patient_rows_copy(stored_result.pk, rows)
    orm = PatientScoreRow.objects.filter(result=stored_result)
    assert sorted((r.scope, r.position, r.row) for r in orm) == sorted(
        (scope, position, json.loads(text)) for scope, position, text in rows
    )
    texts = dict(statements.patient_rows_text(stored_result.pk))
    by_orm = {
        scope: [r.row for r in orm.filter(scope=scope).order_by("position")]
        for scope in ("unified", "stir")
    }
    assert {scope: json.loads(text) for scope, text in texts.items()} == by_orm
    fields = statements.patient_row_fields_text(stored_result.pk, "unified", ["patient_id", "ck"])
    assert json.loads(fields) == [[r["patient_id"], r["ck"]] for r in by_orm["unified"]]
    assert statements.patient_row_fields_text(stored_result.pk, "t1", ["ck"]) is None
