"""Image files that no row names (an erasure or an import killed between its rows and its
files) are removed by the media sweep once old enough; every file a row names stays."""

from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from cohorts.imaging.ingest import dicom_import
from cohorts.models import Instance, Patient
from scoring.erasure import patient_erase
from tests.dicom_import.conftest import synthetic_files

pytestmark = pytest.mark.django_db

TWO_DAYS = 2 * 24 * 3600


def _stored_files() -> set[Path]:
    return {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}


def _age(paths: set[Path], seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def test_files_left_by_an_erasure_killed_before_deleting_them_are_swept(cohort, coordinator):
    for number, source_id in enumerate(("SRC-A", "SRC-B"), start=1):
        dicom_import(
            cohort=cohort, files=synthetic_files(source_id, seed=number, slices=2), actor=None
        )
    erased, kept = Patient.objects.filter(cohort=cohort).order_by("pseudonym")
    root = Path(settings.MEDIA_ROOT)
    kept_files = {
        root / name
        for name in Instance.objects.filter(series__study__patient=kept).values_list(
            "file", flat=True
        )
    }
    # The erasure commits its rows but its files are never deleted (the process dies first;
    # here: its after-commit deletion never runs, as in any test without a commit).
    patient_erase(
        patient=erased, actor=coordinator, reason="Request 7", confirmation=erased.pseudonym
    )
    left = _stored_files() - kept_files
    assert left and kept_files <= _stored_files()
    _age(_stored_files(), TWO_DAYS)
    # An import still storing a series: its file is newer than the minimum age.
    series_folder = next(iter(kept_files)).parent
    storing = series_folder / "1.2.826.0.1.9999.dcm"
    storing.write_bytes(b"DICM in progress")

    out = StringIO()
    call_command("media_sweep", "--dry-run", stdout=out)
    assert f"{len(left)} named by no row (0 removed), 1 too recent" in out.getvalue()
    assert _stored_files() == kept_files | left | {storing}

    out = StringIO()
    call_command("media_sweep", stdout=out)
    assert f"{len(left)} named by no row ({len(left)} removed)" in out.getvalue()
    assert _stored_files() == kept_files | {storing}
    # The erased patient's folders are gone too; the kept patient's are all there.
    assert not any(path.parent.exists() for path in left)
    assert all(path.exists() for path in kept_files)
