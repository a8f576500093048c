"""Pulling from a PACS over DICOMweb: a real Orthanc started by the test on loopback."""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from django.core.management import CommandError, call_command

from cohorts.imaging.dicomweb import DicomwebPullFailed, dicomweb_pull
from cohorts.models import ImagingStudy, Instance
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_nothing_written,
    assert_pixels_unchanged,
    free_port,
    parse,
    real_file,
    real_files,
    synthetic_files,
)
from tests.services import need, need_program

pytestmark = [pytest.mark.external, pytest.mark.django_db]

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
AUTH = ("iim-test", "orthanc-test-password")


@pytest.fixture
def orthanc(tmp_path) -> Iterator[SimpleNamespace]:
    binary = need_program("Orthanc", "orthanc")
    need(PLUGIN.exists(), f"the DICOMweb plugin {PLUGIN} (Debian package orthanc-dicomweb)")
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "iim-test-pacs",
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {AUTH[0]: AUTH[1]},
        "StorageDirectory": str(tmp_path / "orthanc-storage"),
        "IndexDirectory": str(tmp_path / "orthanc-index"),
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    config_path = tmp_path / "orthanc.json"
    config_path.write_text(json.dumps(config))
    log = (tmp_path / "orthanc.log").open("w")
    process = subprocess.Popen([binary, str(config_path)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/system", auth=AUTH, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "orthanc.log").read_text()[-2000:])
            time.sleep(0.2)

        def upload(files: list[tuple[str, bytes]]) -> None:
            for _name, data in files:
                requests.post(
                    f"{base}/instances", data=data, auth=AUTH, timeout=30
                ).raise_for_status()

        yield SimpleNamespace(url=f"{base}/dicom-web", upload=upload)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def test_every_mr_study_is_pulled_de_identified_and_a_second_pull_adds_nothing(orthanc, cohort):
    files = real_files(
        ["MR_small_jp2klossless.dcm", "MR2_J2KI.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"]
    )
    files += synthetic_files()
    orthanc.upload(files + [("CT_small.dcm", real_file("CT_small.dcm").read_bytes())])
    report = dicomweb_pull(cohort=cohort, url=orthanc.url, auth=AUTH, actor=None)
    assert report.count("imported") == len(files) == len(report.files)  # the CT is not pulled
    assert ImagingStudy.objects.count() == 4
    assert_nothing_identifying_stored(files)
    for _name, data in files:
        assert_pixels_unchanged(data)  # fetched as stored: JPEG 2000 stays JPEG 2000
    again = dicomweb_pull(cohort=cohort, url=orthanc.url, auth=AUTH, actor=None)
    assert again.count("duplicate") == len(files) and again.instances_created == 0


def test_the_command_pulls_one_study(orthanc, cohort):
    first, second = synthetic_files(seed=1), synthetic_files(seed=2, patient_id="SRC-0043")
    orthanc.upload(first + second)
    study_uid = str(parse(second[0][1]).StudyInstanceUID)
    out = io.StringIO()
    call_command(
        "dicomweb_pull",
        "--cohort",
        cohort.slug,
        "--url",
        orthanc.url,
        "--study",
        study_uid,
        "--user",
        AUTH[0],
        "--password",
        AUTH[1],
        stdout=out,
        stderr=io.StringIO(),
    )
    assert f"{len(second)} files into {cohort.slug}: {len(second)} imported" in out.getvalue()
    assert Instance.objects.count() == len(second) and ImagingStudy.objects.count() == 1
    assert_nothing_identifying_stored(second)


def test_a_wrong_password_is_a_clear_error_and_stores_nothing(orthanc, cohort):
    orthanc.upload(synthetic_files(slices=1))
    with pytest.raises(DicomwebPullFailed, match="401"):
        dicomweb_pull(cohort=cohort, url=orthanc.url, auth=(AUTH[0], "wrong"), actor=None)
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command(
            "dicomweb_pull", "--cohort", cohort.slug, "--url", orthanc.url, stderr=io.StringIO()
        )
    assert_nothing_written()
