"""The documented backup and restore procedure brings back every row and every image file."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.services import postgres_server_url

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_backup_then_restore_returns_rows_and_images(tmp_path):
    base = postgres_server_url()
    name = f"iim_backup_{uuid.uuid4().hex[:8]}"
    url = postgres_server_url(name)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    media = tmp_path / "media"
    env = {**os.environ, "DATABASE_URL": url, "MEDIA_ROOT": str(media)}
    env.pop("CELERY_BROKER_URL", None)
    try:
        _manage(env, "migrate", "--noinput")
        _manage(env, "seed_demo", "--no-images")
        # A few real images through the import pipeline (the full demo images take minutes).
        _manage(
            env,
            "shell",
            "-c",
            (
                "from cohorts.models import Patient; "
                "from cohorts.imaging.ingest import dicom_import; "
                "from cohorts.imaging.dicom.synthetic import synthetic_study; "
                "from cohorts.imaging.dicom.deid import dicom_bytes; p = Patient.objects.first(); "
                "ds = synthetic_study(patient_id='SRC-9', patient_name='Doe^John', "
                "birth_date='19500101', grades={}, slices=4, size=64); "
                "dicom_import(cohort=p.cohort, patient=p, actor=None, "
                "files=[(str(i), dicom_bytes(d)) for i, d in enumerate(ds)])"
            ),
        )
        count = (
            "from scoring.models import Grade; from cohorts.models import Instance; "
            "print(Grade.objects.count(), Instance.objects.count())"
        )
        before = _manage(env, "shell", "-c", count).split()[-2:]
        files_before = sorted(p.relative_to(media) for p in media.rglob("*.dcm"))
        assert int(before[1]) > 0 and len(files_before) == int(before[1])
        subprocess.run(
            [str(REPO / "scripts/backup.sh"), str(tmp_path / "backup")],
            env=env,
            check=True,
            capture_output=True,
        )
        # Disaster: the database loses its data and the media volume is wiped.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE scoring_grade, cohorts_instance CASCADE")
        for path in media.rglob("*.dcm"):
            path.unlink()
        subprocess.run(
            [str(REPO / "scripts/restore.sh"), str(tmp_path / "backup")],
            env=env,
            check=True,
            capture_output=True,
        )
        assert _manage(env, "shell", "-c", count).split()[-2:] == before
        assert sorted(p.relative_to(media) for p in media.rglob("*.dcm")) == files_before
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
