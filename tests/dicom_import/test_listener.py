"""The C-STORE listener, fed by DCMTK's storescu: one batch per association, the import's own
gate answering each C-STORE, nothing identifying stored, pixels as sent."""

from __future__ import annotations

import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.listener import DicomListener
from cohorts.models import Instance, Series
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_pixels_unchanged,
    free_port,
    parse,
    real_file,
    real_files,
    stored_instance,
    synthetic_files,
)
from tests.services import need_program

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]

AE_TITLE = "IIMTEST"


@pytest.fixture
def listener(cohort) -> Iterator[SimpleNamespace]:
    need_program("storescu", "dcmtk")
    reports: queue.Queue = queue.Queue()
    port = free_port()
    server = DicomListener(
        cohort=cohort, ae_title=AE_TITLE, port=port, host="127.0.0.1", on_batch=reports.put
    )
    server.start()
    try:
        yield SimpleNamespace(port=port, reports=reports)
    finally:
        server.stop()


def storescu(
    port: int, paths: list[Path], *options: str, called: str = AE_TITLE
) -> subprocess.CompletedProcess:
    command = ["storescu", "-v", *options, "-aec", called, "127.0.0.1", str(port)]
    return subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=120, check=False
    )


def on_disk(tmp_path: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    paths = []
    for name, data in files:
        path = tmp_path / name.replace("/", "-")
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_files_sent_in_one_association_are_imported_as_one_batch(listener, tmp_path):
    files = real_files(["MR_small.dcm", "MR2_UNCR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"])
    files += synthetic_files()
    sent = storescu(listener.port, on_disk(tmp_path, files))
    assert sent.returncode == 0, sent.stderr
    report = listener.reports.get(timeout=60)
    assert report.count("imported") == len(files) == Instance.objects.count()
    assert listener.reports.empty(), "one association, one batch"
    assert_nothing_identifying_stored(files)
    for _name, data in files:
        assert_pixels_unchanged(data, same_encoding=False)


@pytest.mark.parametrize(
    ("option", "name", "syntax"),
    [
        ("-xv", "MR_small_jp2klossless.dcm", JPEG2000Lossless),
        ("-xr", "MR_small_RLE.dcm", RLELossless),
        ("-xt", "MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless),
    ],
)
def test_compressed_transfer_syntaxes_are_accepted_as_sent(
    listener, tmp_path, option, name, syntax
):
    files = real_files([name])
    sent = storescu(listener.port, on_disk(tmp_path, files), option)
    assert sent.returncode == 0, sent.stderr
    assert listener.reports.get(timeout=60).count("imported") == 1
    with stored_instance(files[0][1]).file.open("rb") as handle:
        assert parse(handle.read()).file_meta.TransferSyntaxUID == syntax
    assert_pixels_unchanged(files[0][1])
    assert_nothing_identifying_stored(files)


def test_a_file_the_import_rejects_gets_a_failure_status_and_takes_its_series_down(
    listener,
    tmp_path,
):
    files = synthetic_files(slices=3)
    headless = parse(files[1][1])  # a STIR image without its pixels
    del headless.PixelData
    files[1] = ("003-headless.dcm", dicom_bytes(headless))
    sent = storescu(listener.port, on_disk(tmp_path, files), "--no-halt")  # send the rest too
    assert "Error: DataSetDoesNotMatchSOPClass" in sent.stderr  # 0xA900 for the headless one
    report = listener.reports.get(timeout=60)
    assert report.count("rejected") == 1 and report.count("skipped") == 2
    assert list(Series.objects.values_list("sequence", flat=True)) == ["T1"]


def test_an_undecodable_image_gets_cannot_understand(listener, tmp_path):
    ds = parse(real_file("MR_small.dcm").read_bytes())
    ds.Rows = 128  # the pixel data is now half what the image size needs
    sent = storescu(listener.port, on_disk(tmp_path, [("short.dcm", dicom_bytes(ds))]))
    assert sent.returncode != 0 and "Error: CannotUnderstand" in sent.stderr
    assert listener.reports.get(timeout=60).count("rejected") == 1
    assert not Instance.objects.exists()


def test_a_sender_calling_another_ae_title_is_refused(listener, tmp_path):
    sent = storescu(listener.port, on_disk(tmp_path, synthetic_files(slices=1)), called="SOMEONE")
    assert sent.returncode != 0 and "Called AE Title Not Recognized" in sent.stderr
    assert listener.reports.empty() and not Instance.objects.exists()
