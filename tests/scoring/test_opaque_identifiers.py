"""Nothing a reader receives orders or links cases (issue 22, item 4): read and image URLs carry
random tokens, not sequential ids (which follow import order, which follows pseudonyms), and
each read serves its own UID remap, so a re-read is not recognisable by its UIDs or URLs."""

from __future__ import annotations

import io
import json
import re

import pydicom
import pytest
from django.urls import reverse

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.dicom.synthetic import synthetic_study
from cohorts.imaging.ingest import dicom_import
from scoring.models import Read, ScoringProtocol
from scoring.services import read_assign
from tests import factories

pytestmark = pytest.mark.django_db


def _imported_study(cohort, pseudonym: str):
    patient = factories.PatientFactory(cohort=cohort, pseudonym=pseudonym)
    datasets = synthetic_study(
        patient_id=f"SRC-{pseudonym}", patient_name="A^B", birth_date="19500101",
        grades={}, slices=2, size=32,
    )  # fmt: skip
    dicom_import(
        cohort=cohort,
        patient=patient,
        actor=None,
        files=[(f"{i}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)],
    )
    return patient.studies.get()


def _served(client, read: Read) -> tuple[str, list[str], list[pydicom.Dataset]]:
    page = client.get(reverse("scoring:read", args=[read.token]))
    config = page.context["viewer_config"]
    urls = [i.removeprefix("wadouri:") for s in config["series"] for i in s["imageIds"]]
    files = [pydicom.dcmread(io.BytesIO(client.get(url).content)) for url in urls]
    return page.content.decode(), urls, files


def test_read_and_image_urls_carry_no_database_ids(client, radiologist, cohort):
    study = _imported_study(cohort, "IIM-0001")
    read = read_assign(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=radiologist,
        actor=None,
    )
    client.force_login(radiologist)
    html, urls, _files = _served(client, read)
    instance_ids = {str(pk) for pk in study.series.values_list("instances__pk", flat=True)}
    for url in urls:
        parts = re.split(r"[/.]", url)
        assert str(read.pk) not in parts and not instance_ids & set(parts), url
    grading = json.loads(re.search(r'id="grading-config"[^>]*>(.*?)</script>', html, re.S)[1])
    assert grading["readId"] == read.token
    assert all(f"/{read.pk}/" not in url for url in grading["urls"].values())
    worklist = client.get(reverse("scoring:worklist")).content.decode()
    assert f"/reading/reads/{read.token}/" in worklist
    assert f"/reading/reads/{read.pk}/" not in worklist


def test_read_tokens_do_not_follow_the_pseudonyms(client, radiologist, cohort):
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    reads = []
    for number in range(1, 13):
        study = factories.StudyFactory(
            patient=factories.PatientFactory(cohort=cohort, pseudonym=f"IIM-{number:04d}")
        )
        reads.append(read_assign(study=study, protocol=protocol, reader=radiologist, actor=None))
    ids = [r.pk for r in reads]
    tokens = [r.token for r in reads]
    assert ids == sorted(ids)  # ids follow the pseudonyms, as the probe found (rho = 1.00)
    # Twelve random tokens sorted like the pseudonyms: 2 in 12! (~4e-9) by chance.
    assert tokens != sorted(tokens) and tokens != sorted(tokens, reverse=True)
    assert len(set(tokens)) == 12


def test_a_reread_serves_other_uids_and_other_image_urls_than_the_original(
    client, radiologist, cohort
):
    study = _imported_study(cohort, "IIM-0002")
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    original = read_assign(study=study, protocol=protocol, reader=radiologist, actor=None)
    reread = read_assign(
        study=study,
        protocol=protocol,
        reader=radiologist,
        actor=None,
        kind=Read.Kind.REREAD,
        rereads=original,
    )
    client.force_login(radiologist)
    _html, first_urls, first = _served(client, original)
    _html, again_urls, again = _served(client, reread)
    assert not set(first_urls) & set(again_urls)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        seen_first = {str(getattr(ds, keyword)) for ds in first}
        seen_again = {str(getattr(ds, keyword)) for ds in again}
        assert not seen_first & seen_again, keyword
    stored = set(study.series.values_list("instances__sop_instance_uid", flat=True))
    assert not stored & {str(ds.SOPInstanceUID) for ds in first + again}
    # Within one read the remap is consistent: one study, one UID; each file its own SOP UID.
    assert len({str(ds.StudyInstanceUID) for ds in first}) == 1
    assert len({str(ds.SOPInstanceUID) for ds in first}) == len(first)
    assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID for ds in first)


def test_an_image_token_of_one_read_opens_nothing_in_another(client, radiologist, cohort):
    study = _imported_study(cohort, "IIM-0003")
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    first = read_assign(study=study, protocol=protocol, reader=radiologist, actor=None)
    second = read_assign(
        study=study, protocol=protocol, reader=radiologist, actor=None,
        kind=Read.Kind.REREAD, rereads=first,
    )  # fmt: skip
    client.force_login(radiologist)
    _html, urls, _files = _served(client, first)
    image = urls[0].rsplit("/", 1)[1]
    other = reverse("scoring:read-image", args=[second.token, image.removesuffix(".dcm")])
    assert client.get(other).status_code == 404
