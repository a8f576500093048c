"""A DICOM import killed halfway (SIGKILL: no handler runs) leaves no half series and no row
without its file, and running it again completes it, each image stored exactly once, with no
file left over that no row names.

A real `manage.py import_dicom` process on the suite's Postgres database, killed while it
stores the series. Files and rows cannot change together, so the import writes a series'
files before its rows commit: a kill in between leaves files of that one series that no row
names, and the next import of the series removes them before storing it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from cohorts.imaging.dicom.deid import remap_uid
from cohorts.models import ImagingStudy, Instance, Patient, Series
from tests.dicom_import.conftest import parse, synthetic_files
from tests.services import database_url

REPO = Path(__file__).resolve().parents[2]
PATIENTS = 3  # a STIR and a T1 series each
SLICES = 16
COHORT = "interrupted"

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def export_folder(folder: Path) -> dict[str, int]:
    """Write the generated series under `folder`: {pseudonymized series UID: slices}."""
    secret = settings.DICOM_UID_SECRET.encode()
    expected: dict[str, int] = {}
    for number in range(PATIENTS):
        files = synthetic_files(
            f"SRC-{number:04d}", name=f"Testperson^Nr{number}", seed=number + 1, slices=SLICES
        )
        for name, data in files:
            path = folder / f"patient-{number}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            uid = remap_uid(str(parse(data).SeriesInstanceUID), secret)
            expected[uid] = expected.get(uid, 0) + 1
    return expected


@pytest.fixture
def start_import(tmp_path: Path) -> Iterator[Callable[[Path, str], subprocess.Popen]]:
    """Start `manage.py import_dicom FOLDER --cohort interrupted --create` on the suite's
    database and MEDIA_ROOT, its output in tmp_path/LOG; killed at the end if still running."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DICOM_UID_SECRET": settings.DICOM_UID_SECRET,
    }
    env.pop("CELERY_BROKER_URL", None)
    started: list[subprocess.Popen] = []

    def start(folder: Path, log: str) -> subprocess.Popen:
        command = ["manage.py", "import_dicom", str(folder), "--cohort", COHORT, "--create"]
        with (tmp_path / log).open("w") as out:
            process = subprocess.Popen(
                [sys.executable, *command], cwd=REPO, env=env, stdout=out, stderr=out
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def stored_files(media_root: Path) -> set[str]:
    """Every file under MEDIA_ROOT, named as a FileField names it."""
    return {p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file()}


def kill_while_storing(process: subprocess.Popen, media_root: Path, files: int) -> None:
    """SIGKILL the import the moment `files` image files exist: it is storing a series."""
    deadline = time.monotonic() + 120
    while len(stored_files(media_root)) < files:
        assert process.poll() is None, "the import ended before it was killed"
        assert time.monotonic() < deadline, f"the import had not stored {files} files in 120 s"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


def assert_consistent(media_root: Path, expected: dict[str, int]) -> set[str]:
    """No half series, no patient or study without a series, no row without its file, no
    image twice; returns the names of the files no row names."""
    assert not Patient.objects.filter(studies__isnull=True).exists(), "a patient has no study"
    assert not ImagingStudy.objects.filter(series__isnull=True).exists(), "a study has no series"
    for series in Series.objects.annotate(stored=Count("instances")):
        assert series.series_uid in expected, f"{series.series_uid} was never sent"
        assert series.stored == series.slice_count == expected[series.series_uid], (
            f"series {series.series_uid} is stored in part: {series.stored} of "
            f"{expected[series.series_uid]} images"
        )
    rows = list(Instance.objects.values_list("sop_instance_uid", "file"))
    assert len({sop for sop, _file in rows}) == len(rows), "an image is stored twice"
    files = stored_files(media_root)
    named = {file for _sop, file in rows}
    missing = named - files
    assert not missing, f"rows name files that do not exist: {sorted(missing)[:3]}"
    return files - named


def test_an_import_killed_halfway_leaves_whole_series_and_a_rerun_completes_it(
    tmp_path: Path, start_import: Callable[[Path, str], subprocess.Popen]
) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    expected = export_folder(tmp_path / "export")
    assert len(expected) == 2 * PATIENTS and set(expected.values()) == {SLICES}

    first = start_import(tmp_path / "export", "first.log")
    # Halfway: two series stored, the third one being stored.
    kill_while_storing(first, media_root, files=2 * SLICES + SLICES // 2)
    leftovers = assert_consistent(media_root, expected)
    stored = Series.objects.count()
    assert 0 < stored < len(expected), f"not killed halfway: {stored} series stored"
    # All a kill may leave besides whole series: files of the one series it interrupted.
    folders = {Path(name).parent.name for name in leftovers}
    assert len(folders) <= 1, f"files no row names, of {len(folders)} series"
    assert not Series.objects.filter(series_uid__in=folders).exists()

    second = start_import(tmp_path / "export", "second.log")
    assert second.wait(300) == 0, (tmp_path / "second.log").read_text()[-3000:]
    output = (tmp_path / "second.log").read_text()
    images = len(expected) * SLICES
    done = stored * SLICES
    summary = f"{images} files into {COHORT}: {images - done} imported, {done} already there"
    assert summary in output, output[-3000:]
    assert not assert_consistent(media_root, expected), "files no row names are left over"
    assert Series.objects.count() == len(expected) and Instance.objects.count() == images
    assert Patient.objects.count() == ImagingStudy.objects.count() == PATIENTS
    print(f"killed with {stored} series stored and {len(leftovers)} files no row names")
