"""Fuzzing the DICOM import: mutated real and generated MR files, for a fixed time budget
(IIM_FUZZ_SECONDS, 60 by default, as CI runs it). Every file is imported or rejected with a
reason; nothing raises, and a rejected series leaves no rows and no files behind.

Mutations are drawn from a seeded generator, so a failure names the seed and the mutation and
can be replayed."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from cohorts.imaging.ingest import dicom_import
from cohorts.models import Instance, Series
from tests.dicom_import.conftest import real_files, synthetic_files

pytestmark = pytest.mark.django_db

FUZZ_SECONDS = float(os.environ.get("IIM_FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("IIM_FUZZ_SEED", "20261129"))


def _mutate(payload: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One mutation, aimed mostly at the header, where parsers go wrong."""
    data = bytearray(payload)
    head = min(len(data), 2048)
    kind = rng.choice(["flip", "truncate", "length", "insert", "delete", "splice"])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(head)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del data[rng.randrange(len(data)) :]
    elif kind == "length":  # an element length of 0xFFFFFFFF or a huge one
        at = rng.randrange(132, max(133, head - 4))
        data[at : at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x7f", b"\x00" * 4])
    elif kind == "insert":
        at = rng.randrange(head)
        data[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == "delete":
        at = rng.randrange(head)
        del data[at : at + rng.randint(1, 64)]
    else:  # the front of one file on the back of another's
        at = rng.randrange(head)
        data = data[:at] + bytearray(payload[rng.randrange(len(payload)) :])
    return bytes(data), kind


def _stored_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_mutated_mr_files_are_imported_or_rejected_with_a_reason(cohort):
    seeds = real_files(["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
    seeds += synthetic_files(slices=2)
    rng = random.Random(SEED)
    deadline = time.monotonic() + FUZZ_SECONDS
    tried = rejected = 0
    while time.monotonic() < deadline:
        name, payload = rng.choice(seeds)
        mutated, kind = _mutate(payload, rng)
        what = f"seed {SEED}, try {tried}, {kind} of {name}"
        files_before = _stored_files()
        with transaction.atomic():
            try:
                report = dicom_import(cohort=cohort, files=[(name, mutated)], actor=None)
            except Exception as exc:  # the property under test: nothing escapes
                pytest.fail(f"{what}: {type(exc).__name__}: {exc}")
            (outcome,) = report.files
            assert outcome.status in {"imported", "duplicate", "rejected"}, what
            if outcome.status == "rejected":
                rejected += 1
                assert outcome.reason.strip() and outcome.reason_code, what
                assert not Instance.objects.filter(series__study__patient__cohort=cohort).exists()
                assert not Series.objects.exists(), what
                assert _stored_files() == files_before, f"{what}: a rejected file was stored"
            transaction.set_rollback(True)
        for path in _stored_files() - files_before:  # rolled back: its file goes too
            path.unlink()
        tried += 1
    assert tried > 20 and rejected > 0, (tried, rejected)
