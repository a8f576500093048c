"""`manage.py import_dicom PATH --cohort SLUG [--create]`: a file, a folder or a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cohorts.models import AuditEvent, Cohort, Instance, Patient
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_nothing_written,
    assert_pixels_unchanged,
    real_file,
    real_files,
    synthetic_files,
)

pytestmark = pytest.mark.django_db


def write(folder: Path, files: list[tuple[str, bytes]]) -> Path:
    for name, data in files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_dicom", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_folder_is_imported_into_a_new_cohort(tmp_path):
    files = real_files(["MR_small.dcm", "MR2_J2KR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"])
    files += synthetic_files()
    folder = write(tmp_path / "export", files)
    output = run(str(folder), "--cohort", "new-cohort", "--create", "--title", "New cohort")
    cohort = Cohort.objects.get(slug="new-cohort")
    assert cohort.title == "New cohort"
    assert AuditEvent.objects.filter(action="cohort.create", cohort=cohort).exists()
    assert f"{len(files)} files into new-cohort: {len(files)} imported" in output
    assert "New: 4 patients, 4 studies, 5 series" in output
    assert_nothing_identifying_stored(files)
    for _name, data in files:
        assert_pixels_unchanged(data)


def test_a_zip_and_a_single_file_are_imported_and_a_rerun_adds_nothing(tmp_path, cohort):
    files = synthetic_files(slices=2)
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name, data in files:
            handle.writestr(name, data)
    single = write(tmp_path, real_files(["MR_small_RLE.dcm"])) / "MR_small_RLE.dcm"
    run(str(archive), "--cohort", cohort.slug)
    run(str(single), "--cohort", cohort.slug)
    assert Instance.objects.count() == 5
    output = run(str(archive), "--cohort", cohort.slug)
    assert "0 imported, 4 already there" in output and Instance.objects.count() == 5


def test_rejected_files_are_named_with_their_reason_and_the_exit_status_is_not_zero(
    tmp_path,
    cohort,
):
    files = synthetic_files(slices=1) + [
        ("CT_small.dcm", real_file("CT_small.dcm").read_bytes()),
        ("MR_truncated.dcm", real_file("MR_truncated.dcm").read_bytes()),
    ]
    folder = write(tmp_path / "mixed", files)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 files rejected"):
        call_command("import_dicom", str(folder), "--cohort", cohort.slug, stdout=out)
    output = out.getvalue()
    assert "rejected CT_small.dcm: This is a CT image; only MR images can be imported." in output
    assert "rejected MR_truncated.dcm: The file is cut off" in output
    assert Instance.objects.count() == 2  # the good series are stored all the same


def test_an_unknown_cohort_needs_create(tmp_path):
    path = write(tmp_path, real_files(["MR_small.dcm"])) / "MR_small.dcm"
    with pytest.raises(CommandError, match="pass --create"):
        run(str(path), "--cohort", "nowhere")
    assert not Cohort.objects.exists()


def test_a_zip_past_the_limit_or_with_an_unsafe_path_imports_nothing(tmp_path, cohort, settings):
    settings.DICOM_MAX_ARCHIVE_BYTES = 100_000
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in synthetic_files(slices=1) + [("pad.dcm", b"\0" * 200_000)]:
            handle.writestr(name, data)
    with pytest.raises(CommandError, match="Nothing was imported: The zip would unpack"):
        run(str(big), "--cohort", cohort.slug)
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as handle:
        handle.writestr("../outside.dcm", real_file("MR_small.dcm").read_bytes())
    with pytest.raises(CommandError, match="climbs out of the archive"):
        run(str(slip), "--cohort", cohort.slug)
    assert_nothing_written()
    assert not Patient.objects.exists()


def test_a_missing_path_is_a_clear_error(tmp_path, cohort):
    with pytest.raises(CommandError, match="There is no file or folder"):
        run(str(tmp_path / "nothing-here"), "--cohort", cohort.slug)
