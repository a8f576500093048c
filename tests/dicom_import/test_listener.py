"""The C-STORE listener, fed by DCMTK's storescu: each instance checked and staged before it is
acknowledged, one import job per association, a bad instance refused with its reason while
its neighbours are imported, nothing identifying stored, pixels as sent."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError
from django.urls import reverse
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless
from pynetdicom import AE

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.ingest import STUDY_IN_OTHER_COHORT_MESSAGE, dicom_import
from cohorts.imaging.listener import ERROR_COMMENT_MAX, DicomListener
from cohorts.models import DicomImportJob, DicomSender, Instance, Series
from tests.dicom_import.conftest import (
    AE_TITLE,
    STORESCU,
    assert_nothing_identifying_stored,
    assert_pixels_unchanged,
    finished_job,
    free_port,
    identifying,
    on_disk,
    parse,
    real_file,
    real_files,
    require_program,
    stored_instance,
    storescu,
    synthetic_files,
)
from tests.factories import CohortFactory

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]


def send_with_pynetdicom(port: int, payloads: list[bytes], calling: str = STORESCU) -> list:
    """C-STORE each file over one association; the response status datasets, in order."""
    ae = AE(ae_title=calling)
    datasets = [parse(data) for data in payloads]
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
    assert assoc.is_established
    try:
        return [assoc.send_c_store(ds) for ds in datasets]
    finally:
        assoc.release()


def test_files_sent_in_one_association_are_imported_as_one_job(listener, tmp_path):
    files = real_files(["MR_small.dcm", "MR2_UNCR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"])
    files += synthetic_files()
    sent = storescu(listener.port, on_disk(tmp_path, files))
    assert sent.returncode == 0, sent.stderr
    job = finished_job(listener)
    assert job.status == "done" and job.source == "cstore" and job.calling_ae == STORESCU
    assert job.imported == len(files) == Instance.objects.count()
    assert listener.jobs.empty(), "one association, one job"
    assert not Path(job.staging_dir).exists(), "the staged instances are gone once imported"
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
    assert finished_job(listener).imported == 1
    with stored_instance(files[0][1]).file.open("rb") as handle:
        assert parse(handle.read()).file_meta.TransferSyntaxUID == syntax
    assert_pixels_unchanged(files[0][1])
    assert_nothing_identifying_stored(files)


def test_a_bad_instance_is_refused_with_its_reason_and_its_neighbours_are_imported(
    listener, tmp_path, client, coordinator
):
    files = synthetic_files(slices=3)  # three STIR and three T1 images
    headless = parse(files[1][1])  # a STIR image without its pixels
    del headless.PixelData
    files[1] = ("003-headless.dcm", dicom_bytes(headless))
    sent = storescu(listener.port, on_disk(tmp_path, files), "--no-halt")  # send the rest too
    assert "Error: DataSetDoesNotMatchSOPClass" in sent.stderr  # 0xA900 for the headless one
    job = finished_job(listener)
    assert (job.imported, job.rejected, job.skipped) == (5, 1, 0)
    assert sorted(Series.objects.values_list("sequence", "slice_count")) == [
        ("STIR", 2),
        ("T1", 3),
    ]
    client.force_login(coordinator)
    page = client.get(reverse("cohorts:dicom-import-job", args=[job.cohort.slug, job.pk]))
    assert page.status_code == 200
    assert f"{STORESCU} #2" in page.text and "no pixel data" in page.text.lower()


def test_the_failure_status_carries_the_reason_in_the_error_comment(listener):
    good, bad = (data for _name, data in synthetic_files(slices=1))
    ds = parse(bad)
    ds.Rows = 4096  # the pixel data is now far shorter than the image size needs
    statuses = send_with_pynetdicom(listener.port, [good, dicom_bytes(ds)])
    assert [status.Status for status in statuses] == [0x0000, 0xC000]
    comment = statuses[1].ErrorComment
    assert 0 < len(comment) <= ERROR_COMMENT_MAX and "pixel data is shorter" in comment
    job = finished_job(listener)
    assert (job.imported, job.rejected) == (1, 1)


def test_an_undecodable_image_gets_cannot_understand(listener, tmp_path):
    ds = parse(real_file("MR_small.dcm").read_bytes())
    ds.Rows = 128  # the pixel data is now half what the image size needs
    sent = storescu(listener.port, on_disk(tmp_path, [("short.dcm", dicom_bytes(ds))]))
    assert sent.returncode != 0 and "Error: CannotUnderstand" in sent.stderr
    job = finished_job(listener)
    assert (job.imported, job.rejected) == (0, 1)
    assert not Instance.objects.exists()


def test_a_sender_calling_another_ae_title_is_refused(listener, tmp_path):
    sent = storescu(listener.port, on_disk(tmp_path, synthetic_files(slices=1)), called="SOMEONE")
    assert sent.returncode != 0 and "Called AE Title Not Recognized" in sent.stderr
    assert not DicomImportJob.objects.exists() and not Instance.objects.exists()


def test_an_unknown_calling_ae_title_is_refused(listener, tmp_path):
    paths = on_disk(tmp_path, synthetic_files(slices=1))
    sent = storescu(listener.port, paths, "-aet", "STRANGER")
    assert sent.returncode != 0 and "Calling AE Title Not Recognized" in sent.stderr
    assert not DicomImportJob.objects.exists() and not Instance.objects.exists()


def test_a_sender_configured_for_the_cohort_is_accepted_from_its_address_only(
    start_listener, cohort, tmp_path, settings
):
    settings.DICOM_LISTENER_CALLING_AETS = []
    listener = start_listener(cohort)
    paths = on_disk(tmp_path, synthetic_files(slices=1))
    DicomSender.objects.create(cohort=cohort, ae_title="MRI3T", address="10.1.2.3")
    elsewhere = storescu(listener.port, paths, "-aet", "MRI3T")
    assert elsewhere.returncode != 0 and "Calling AE Title Not Recognized" in elsewhere.stderr
    DicomSender.objects.create(cohort=cohort, ae_title="MRI3T", address="127.0.0.1")
    here = storescu(listener.port, paths, "-aet", "MRI3T")
    assert here.returncode == 0, here.stderr
    assert finished_job(listener).imported == 2


def test_a_sender_of_another_cohort_is_refused(start_listener, cohort, tmp_path, settings):
    settings.DICOM_LISTENER_CALLING_AETS = []
    listener = start_listener(cohort)
    DicomSender.objects.create(cohort=CohortFactory(), ae_title="MRI3T")
    sent = storescu(listener.port, on_disk(tmp_path, synthetic_files(slices=1)), "-aet", "MRI3T")
    assert sent.returncode != 0 and "Calling AE Title Not Recognized" in sent.stderr


def test_a_global_sender_outside_the_configured_addresses_is_refused(
    start_listener, cohort, tmp_path, settings
):
    settings.DICOM_LISTENER_PEER_ADDRESSES = ["192.0.2.0/24"]
    listener = start_listener(cohort)
    paths = on_disk(tmp_path, synthetic_files(slices=1))
    sent = storescu(listener.port, paths)
    assert sent.returncode != 0 and "Calling AE Title Not Recognized" in sent.stderr
    settings.DICOM_LISTENER_PEER_ADDRESSES = ["127.0.0.0/8"]
    assert storescu(listener.port, paths).returncode == 0


def test_the_listener_binds_to_loopback_unless_configured(cohort, tmp_path):
    assert settings.DICOM_LISTENER_HOST == "127.0.0.1"
    server = DicomListener(
        cohort=cohort, ae_title=AE_TITLE, port=free_port(), staging_root=tmp_path
    )
    server.start()
    try:
        assert server.bound_address == ("127.0.0.1", server.address[1])
    finally:
        server.stop()


def test_every_association_is_logged_without_patient_identifiers(listener, tmp_path, caplog):
    files = synthetic_files(slices=2)
    with caplog.at_level(logging.INFO, logger="cohorts.imaging.listener"):
        assert storescu(listener.port, on_disk(tmp_path, files)).returncode == 0
        finished_job(listener)
        storescu(listener.port, on_disk(tmp_path, files), "-aet", "STRANGER")
    log = "\n".join(record.getMessage() for record in caplog.records)
    assert "'STORESCU' at 127.0.0.1 released: 4 instances received, 4 staged, 0 refused" in log
    assert "'STRANGER' at 127.0.0.1 refused" in log
    for value in identifying(files):
        assert value not in log


def test_a_study_already_in_another_cohort_is_refused_and_the_sender_told(
    start_listener, cohort, tmp_path
):
    files = synthetic_files(slices=1)
    first = CohortFactory()
    assert dicom_import(cohort=first, files=files, actor=None).count("imported") == 2
    listener = start_listener(cohort)
    sent = storescu(listener.port, on_disk(tmp_path, files), "--no-halt")
    assert sent.stderr.count("Error: CannotUnderstand") == 2
    job = finished_job(listener)
    assert (job.imported, job.rejected) == (0, 2)
    assert {row["reason"] for row in job.report} == {STUDY_IN_OTHER_COHORT_MESSAGE}
    assert Instance.objects.filter(series__study__patient__cohort=cohort).count() == 0


def test_every_sender_is_refused_while_the_senders_cannot_be_read(listener, tmp_path, monkeypatch):
    def database_away(**_kwargs: object) -> bool:
        raise OperationalError("the database is away")

    monkeypatch.setattr("cohorts.imaging.listener.sender_allowed", database_away)
    sent = storescu(listener.port, on_disk(tmp_path, synthetic_files(slices=1)))
    assert sent.returncode != 0 and "Temporary Congestion" in sent.stderr
    assert not DicomImportJob.objects.exists()


def test_an_aborted_association_still_imports_what_was_acknowledged(listener, caplog):
    files = synthetic_files(slices=2)
    ae = AE(ae_title=STORESCU)
    ae.add_requested_context(parse(files[0][1]).SOPClassUID)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title=AE_TITLE)
    with caplog.at_level(logging.INFO, logger="cohorts.imaging.listener"):
        statuses = [assoc.send_c_store(parse(data)) for _name, data in files[:3]]
        assoc.abort()
        job = finished_job(listener)
    assert [status.Status for status in statuses] == [0x0000] * 3
    assert job.imported == 3 == Instance.objects.count()
    assert "'STORESCU' at 127.0.0.1 aborted: 3 instances received, 3 staged" in caplog.text


def test_a_configured_sender_can_test_the_connection_with_c_echo(listener):
    echoscu = require_program("echoscu", "dcmtk")
    command = [echoscu, "-aet", STORESCU, "-aec", AE_TITLE, "127.0.0.1", str(listener.port)]
    assert subprocess.run(command, capture_output=True, timeout=60).returncode == 0
    stranger = subprocess.run(
        [*command[:1], "-aet", "STRANGER", *command[3:]], capture_output=True, timeout=60
    )
    assert stranger.returncode != 0
    assert not DicomImportJob.objects.exists(), "an echo is no import"
