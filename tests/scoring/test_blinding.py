"""Nothing a radiologist receives names the patient, the subtype, clinical values or the site."""

from __future__ import annotations

import json
import re

import pydicom
import pytest
from django.urls import reverse

from scoring.services import read_assign
from tests.scoring.test_reading_api import cell, post

pytestmark = pytest.mark.django_db

SECRETS = ["IIM-7777", "IMNM", "98765", "Secret Site Hospital", "zz-secret-site"]
# A short number (the MMT-8 total) is a leak only standing alone: random read and image tokens
# and per-read UIDs ("2.25.<39 digits>") hold "111" by chance.
SECRET_NUMBERS = [re.compile(r"(?<![\w./-])111(?![\w.])")]


def _assert_blind(payload: bytes | str, where: str) -> None:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"
    for pattern in SECRET_NUMBERS:
        assert not pattern.search(text), f"{pattern.pattern!r} leaked in {where}"


def test_worklist_read_page_and_json_carry_only_blind_fields(client, radiologist, read):
    client.force_login(radiologist)
    pages = {
        "home": client.get(reverse("home")),
        "worklist": client.get(reverse("scoring:worklist")),
        "read page": client.get(reverse("scoring:read", args=[read.token])),
        "read json": client.get(reverse("scoring:api-read", args=[read.token])),
        "save json": post(client, "api-grades", read, {"version": 0, "changes": [cell()]}),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        _assert_blind(response.content, where)
    assert read.blind_label in pages["worklist"].content.decode()


def test_served_image_carries_the_blind_label_not_the_pseudonym(
    client,
    radiologist,
    read,
    settings,
):
    from cohorts.imaging.dicom.deid import dicom_bytes
    from cohorts.imaging.dicom.synthetic import synthetic_study
    from cohorts.imaging.ingest import dicom_import

    datasets = synthetic_study(
        patient_id="SRC-1",
        patient_name="Doe^Jane",
        birth_date="19500101",
        grades={("rectus-femoris", "L"): (2, 0)},
        slices=4,
        size=64,
    )
    patient = read.study.patient
    report = dicom_import(
        cohort=patient.cohort,
        actor=None,
        patient=patient,
        files=[(f"f{i}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)],
    )
    assert report.count("imported") == 8
    # The imported study is a new study of the patient: give the reader a read of it.
    study = patient.studies.exclude(pk=read.study_id).get()
    image_read = read_assign(study=study, protocol=read.protocol, reader=read.reader, actor=None)
    client.force_login(radiologist)
    page = client.get(reverse("scoring:read", args=[image_read.token]))
    config = json.loads(page.context["viewer_config"] and json.dumps(page.context["viewer_config"]))
    assert [s["sequence"] for s in config["series"]] == ["STIR", "T1"]
    url = config["series"][0]["imageIds"][0].removeprefix("wadouri:")
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    assert "private" in response["Cache-Control"] and response["ETag"]
    _assert_blind(response.content, "served DICOM")
    for original in ("Doe^Jane", "SRC-1", "19500101"):
        assert original.encode() not in response.content
    ds = pydicom.dcmread(__import__("io").BytesIO(response.content))
    assert str(ds.PatientName) == image_read.blind_label
    assert "PatientSex" not in ds and "StudyDate" not in ds
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    # Another reader cannot fetch it.
    from tests.factories import user_with_role

    client.force_login(user_with_role("radiologist", username="snoop"))
    assert client.get(url).status_code == 404
