"""insert_rows: rows in batches, each instance gets the key of its own row."""

from __future__ import annotations

import pytest

from cohorts.models import AuditEvent
from iim_scoring import rows

pytestmark = pytest.mark.django_db


def test_rows_inserted_in_several_batches_each_get_their_own_key(monkeypatch):
    monkeypatch.setattr(rows, "BATCH_ROWS", 2)
    events = [
        AuditEvent(action="test.batch", target_type="x", target_id=str(i), new={"i": i})
        for i in range(5)
    ]
    rows.insert_rows(events)
    stored = {e.pk: (e.target_id, e.new) for e in AuditEvent.objects.filter(action="test.batch")}
    assert {e.pk: (e.target_id, e.new) for e in events} == stored
    assert len(stored) == 5


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

    assert [f.name for f in rows.written_fields(Probe)] == ["label", "number"]
    columns, values = rows.row_values(Probe(label="y"))
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
