"""Logs are read by operators who must not learn who a patient is or their clinical values:
a DICOM import with identifying values, clinical data entry, a failed login and a grade save,
logged at DEBUG for every logger, leave none of those values in the log."""

from __future__ import annotations

import json
import logging

import pytest
from django.urls import reverse

from cohorts.imaging.ingest import dicom_import
from scoring.models import ScoringProtocol
from scoring.services import read_assign
from tests.dicom_import.conftest import synthetic_files

pytestmark = pytest.mark.django_db

SOURCE_ID = "SRC-LOGCHECK-4711"
PATIENT_NAME = "Mustermann^Erika"
CK_VALUE = "98765"
MMT8_VALUE = "117"


def test_logs_hold_no_identifying_or_clinical_values(
    client, caplog, cohort, clinician, radiologist, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        dicom_import(
            cohort=cohort,
            files=synthetic_files(SOURCE_ID, name=PATIENT_NAME, slices=2)
            + [("broken.dcm", b"DICM" + PATIENT_NAME.encode())],
            actor=None,
        )
    patient = cohort.patients.get()
    client.force_login(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cohorts:assessment-edit", args=[cohort.slug, patient.pseudonym, 0]),
            {"mmt8_mode": "total", "mmt8_total": MMT8_VALUE, "ck": CK_VALUE, "ck_uln": "170"},
        )
    assert response.status_code == 302
    # A failed login names a user only masked (django-axes), never the password typed.
    client.logout()
    client.post(reverse("login"), {"username": PATIENT_NAME, "password": "Secret-Typed-0"})
    read = read_assign(
        study=patient.studies.get(),
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=radiologist,
        actor=None,
    )
    client.force_login(radiologist)
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            reverse("scoring:api-grades", args=[read.token]),
            data=json.dumps(
                {
                    "version": 0,
                    "changes": [
                        {"muscle": "gracilis", "side": "L", "sequence": "STIR", "value": "2"}
                    ],
                }
            ),
            content_type="application/json",
        )
    assert saved.status_code == 200
    log = caplog.text
    assert len(caplog.records) > 3  # the flows did log something
    for secret in (SOURCE_ID, PATIENT_NAME, "Mustermann", "19580214", "Secret-Typed-0"):
        assert secret not in log, secret
    assert CK_VALUE not in log and f"mmt8_total={MMT8_VALUE}" not in log
    assert patient.source_key not in log
