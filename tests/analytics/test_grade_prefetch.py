"""Reading a cohort's grades chunk by chunk with the next chunk fetched on a second
connection (Postgres, outside a transaction) gives exactly the frames read in turn, and the
read scores stored from them are the same."""

from __future__ import annotations

import threading
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from analytics import frames, recompute
from analytics.models import ReadScores
from cohorts.models import Cohort
from scoring.models import Read

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_read_ids(transactional_db) -> list[int]:
    call_command("seed_demo", "--no-images", stdout=StringIO())
    return list(
        Read.objects.filter(study__patient__cohort__slug="demo-iim")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def test_prefetched_chunks_are_the_grades_read_in_turn(demo_read_ids, monkeypatch):
    chunks = [demo_read_ids[start : start + 7] for start in range(0, len(demo_read_ids), 7)]
    assert len(chunks) > 2
    threads: set[str] = set()
    grade_text = frames.grade_lines

    def recorded(ids: list[int]) -> str:
        threads.add(threading.current_thread().name)
        return grade_text(ids)

    monkeypatch.setattr(frames, "grade_lines", recorded)
    prefetched = list(frames.grades_frames(chunks))
    assert threads and all(name.startswith("grade-prefetch") for name in threads)
    threads.clear()
    monkeypatch.setattr(frames, "TEXT_PATH_MIN_READS", 0)  # the same text path, in turn
    for chunk, frame in zip(chunks, prefetched, strict=True):
        expected = frames.grades_frame(read_ids=chunk)
        assert len(frame) == len(expected) > 0
        pd.testing.assert_frame_equal(_cell_order(frame), _cell_order(expected))
    assert threads == {threading.current_thread().name}


def _cell_order(frame: pd.DataFrame) -> pd.DataFrame:
    # Postgres returns the reads of a chunk in no particular order.
    keys = ["read_id", "muscle", "side", "sequence"]
    return frame.sort_values(keys).reset_index(drop=True)


def test_read_scores_stored_from_prefetched_chunks_equal_those_read_in_one(
    demo_read_ids,
    monkeypatch,
):
    cohort = Cohort.objects.get(slug="demo-iim")
    ReadScores.objects.all().delete()
    recompute.cohort_read_scores_refresh(cohort)
    whole = dict(ReadScores.objects.values_list("read_id", "scores"))
    ReadScores.objects.all().delete()
    monkeypatch.setattr(recompute, "READ_CHUNK", 5)
    assert recompute.cohort_read_scores_refresh(cohort) == len(demo_read_ids)
    assert dict(ReadScores.objects.values_list("read_id", "scores")) == whole
