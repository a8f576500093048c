"""Pulling from a PACS over DICOMweb: a real Orthanc started by the test on loopback."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from cohorts.imaging.dicom.deid import remap_uid
from cohorts.imaging.dicomweb import DicomwebPullFailed, dicomweb_pull
from cohorts.models import ImagingStudy, Instance
from tests.dicom_import.conftest import (
    ORTHANC_AUTH as AUTH,
)
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_nothing_written,
    assert_pixels_unchanged,
    parse,
    real_file,
    real_files,
    synthetic_files,
)

pytestmark = [pytest.mark.external, pytest.mark.django_db]


@pytest.fixture
def pacs(orthanc):
    return orthanc.start()


def test_every_mr_study_is_pulled_de_identified_and_a_second_pull_adds_nothing(pacs, cohort):
    files = real_files(
        ["MR_small_jp2klossless.dcm", "MR2_J2KI.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"]
    )
    files += synthetic_files()
    pacs.upload(files + [("CT_small.dcm", real_file("CT_small.dcm").read_bytes())])
    report = dicomweb_pull(cohort=cohort, url=pacs.url, auth=AUTH, actor=None)
    assert report.count("imported") == len(files) == len(report.files)  # the CT is not pulled
    assert ImagingStudy.objects.count() == 4
    assert_nothing_identifying_stored(files)
    for _name, data in files:
        assert_pixels_unchanged(data)  # fetched as stored: JPEG 2000 stays JPEG 2000
    again = dicomweb_pull(cohort=cohort, url=pacs.url, auth=AUTH, actor=None)
    assert again.count("duplicate") == len(files) and again.instances_created == 0


def test_the_command_pulls_one_study(pacs, cohort):
    first, second = synthetic_files(seed=1), synthetic_files(seed=2, patient_id="SRC-0043")
    pacs.upload(first + second)
    study_uid = str(parse(second[0][1]).StudyInstanceUID)
    out = io.StringIO()
    call_command(
        "dicomweb_pull",
        "--cohort",
        cohort.slug,
        "--url",
        pacs.url,
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


def test_a_wrong_password_is_a_clear_error_and_stores_nothing(pacs, cohort):
    pacs.upload(synthetic_files(slices=1))
    with pytest.raises(DicomwebPullFailed, match="401"):
        dicomweb_pull(cohort=cohort, url=pacs.url, auth=(AUTH[0], "wrong"), actor=None)
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command(
            "dicomweb_pull", "--cohort", cohort.slug, "--url", pacs.url, stderr=io.StringIO()
        )
    assert_nothing_written()


def test_a_series_the_pacs_fails_is_skipped_and_reported_and_the_others_imported(pacs, cohort):
    files = synthetic_files(slices=3)  # a STIR and a T1 series
    files += synthetic_files("SRC-0043", name="Testperson^Other", seed=2, slices=3)
    pacs.upload(files)
    broken_uid = str(parse(files[0][1]).SeriesInstanceUID)
    series = next(
        s
        for s in pacs.rest("/series?expand")
        if s["MainDicomTags"]["SeriesInstanceUID"] == broken_uid
    )
    # The PACS loses the file of the series' second instance: that series cannot be fetched.
    instance = series["Instances"][1]
    uuid = pacs.rest(f"/instances/{instance}/attachments/dicom/info")["Uuid"]
    (pacs.storage / uuid[:2] / uuid[2:4] / uuid).unlink()

    report = dicomweb_pull(cohort=cohort, url=pacs.url, auth=AUTH, actor=None)
    failed = [f for f in report.files if f.status == "rejected"]
    assert len(failed) == 1 and "did not deliver this series" in failed[0].reason
    assert report.count("imported") == len(files) - 3 == Instance.objects.count()
    assert ImagingStudy.objects.count() == 2
    assert not Instance.objects.filter(
        series__series_uid=remap_uid(broken_uid, settings.DICOM_UID_SECRET.encode())
    ).exists(), "no part of the failed series is stored"
