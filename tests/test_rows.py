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
