"""Query/retrieve from a hospital PACS: a real Orthanc started by the test on loopback is
searched by patient id, accession number or date (C-FIND), and the studies the coordinator
picks are retrieved (C-GET) into the cohort as an import job with its per-file report,
de-identified, the searched identifiers stored nowhere."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from pydicom.uid import generate_uid

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.pacs_views import SEARCH_NEEDS_A_KEY, STUDY_CHOICE_INVALID
from cohorts.models import AuditEvent, DicomImportJob, ImagingStudy, Instance, PacsPeer
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_pixels_unchanged,
    free_port,
    parse,
    real_file,
    synthetic_files,
)
from tests.factories import CohortFactory, user_with_role

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]

HILDE = "SRC-0042"


@pytest.fixture
def pacs(orthanc, cohort, settings):
    """Orthanc that knows this app's AE titles (searching, and the C-MOVE destination on a
    port of the test's own), holding two patients' MR studies and a CT."""
    settings.DICOM_RETRIEVE_PORT = free_port()
    started = orthanc.start(
        modalities={
            "iim": [settings.DICOM_LISTENER_AE_TITLE, "127.0.0.1", free_port()],
            "iim-retrieve": [
                settings.DICOM_RETRIEVE_AE_TITLE,
                "127.0.0.1",
                settings.DICOM_RETRIEVE_PORT,
            ],
        }
    )
    started.hilde = synthetic_files(HILDE, study_date="20240110")
    started.other = synthetic_files(
        "SRC-0043", name="Testperson^Other", seed=2, study_date="20240620"
    )
    started.upload(started.hilde + started.other)
    started.upload([("CT_small.dcm", real_file("CT_small.dcm").read_bytes())])
    started.peer = PacsPeer.objects.create(
        cohort=cohort,
        name="Hospital PACS",
        ae_title=started.aet,
        host="127.0.0.1",
        port=started.dicom_port,
    )
    return started


def url(name: str, cohort, peer=None) -> str:
    return reverse(f"cohorts:{name}", args=[cohort.slug] + ([peer.pk] if peer else []))


def study_choices(page: str) -> list[str]:
    return re.findall(r'name="study" value="([^"]+)"', page)


def test_the_echo_button_says_whether_the_pacs_answers(client, coordinator, cohort, pacs):
    client.force_login(coordinator)
    page = client.post(url("pacs-echo", cohort, pacs.peer))
    assert page.status_code == 200 and "Hospital PACS answered the C-ECHO" in page.text
    silent = PacsPeer.objects.create(
        cohort=cohort, name="Nobody", ae_title="NOBODY", host="127.0.0.1", port=free_port()
    )
    page = client.post(url("pacs-echo", cohort, silent))
    assert page.status_code == 200 and "Nobody did not accept an association" in page.text


def test_a_coordinator_finds_a_study_by_patient_id_and_retrieves_it_de_identified(
    client, coordinator, cohort, pacs, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    found = client.post(url("pacs-search", cohort, pacs.peer), {"patient_id": HILDE})
    assert found.status_code == 200 and "1 study found" in found.text
    choices = study_choices(found.text)
    assert choices == [f"{parse(pacs.hilde[0][1]).StudyInstanceUID}:{len(pacs.hilde)}"]

    with django_capture_on_commit_callbacks(execute=True):
        retrieved = client.post(url("pacs-retrieve", cohort, pacs.peer), {"study": choices})
    job = DicomImportJob.objects.get()
    assert retrieved.status_code == 302
    assert retrieved["Location"] == reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk])
    assert (job.status, job.source, job.imported, job.rejected) == (
        "done",
        "retrieve",
        len(pacs.hilde),
        0,
    )
    assert Instance.objects.count() == len(pacs.hilde) and ImagingStudy.objects.count() == 1
    assert job.uploads == [], "the study UIDs are not kept past the job"
    assert_nothing_identifying_stored(pacs.hilde)  # the typed patient id included
    for _name, data in pacs.hilde:
        assert_pixels_unchanged(data)
    page = client.get(retrieved["Location"])
    assert page.status_code == 200 and f"{len(pacs.hilde)} imported" in page.text
    assert AuditEvent.objects.filter(action="pacs.retrieve", target_id=str(job.pk)).exists()


def test_a_pacs_without_c_get_is_retrieved_from_with_c_move(
    client, coordinator, cohort, pacs, django_capture_on_commit_callbacks
):
    pacs.peer.retrieve_method = PacsPeer.RetrieveMethod.MOVE
    pacs.peer.save(update_fields=["retrieve_method"])
    client.force_login(coordinator)
    found = client.post(url("pacs-search", cohort, pacs.peer), {"date_from": "2000-01-01"})
    choices = study_choices(found.text)
    assert len(choices) == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("pacs-retrieve", cohort, pacs.peer), {"study": choices})
    job = DicomImportJob.objects.get()
    expected = len(pacs.hilde) + len(pacs.other)
    assert (job.status, job.imported, job.rejected) == ("done", expected, 0)
    assert Instance.objects.count() == expected and ImagingStudy.objects.count() == 2
    assert_nothing_identifying_stored(pacs.hilde + pacs.other)


def test_an_instance_the_import_refuses_is_reported_and_its_neighbours_retrieved(
    client, coordinator, cohort, pacs, django_capture_on_commit_callbacks
):
    headless = parse(pacs.hilde[0][1])  # one more image of the study, without its pixels
    del headless.PixelData
    headless.SOPInstanceUID = headless.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    pacs.upload([("headless.dcm", dicom_bytes(headless))])
    client.force_login(coordinator)
    found = client.post(url("pacs-search", cohort, pacs.peer), {"patient_id": HILDE})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("pacs-retrieve", cohort, pacs.peer), {"study": study_choices(found.text)})
    job = DicomImportJob.objects.get()
    assert (job.status, job.imported, job.rejected, job.skipped) == (
        "done",
        len(pacs.hilde),
        1,
        0,
    )
    [refused] = [row for row in job.report if row["status"] == "rejected"]
    assert "no pixel data" in refused["reason"].lower()


def test_studies_are_found_by_accession_number_and_by_date_range(client, coordinator, cohort, pacs):
    client.force_login(coordinator)
    accession = str(parse(pacs.other[0][1]).AccessionNumber)
    by_accession = client.post(
        url("pacs-search", cohort, pacs.peer), {"accession_number": accession}
    )
    other_uid = str(parse(pacs.other[0][1]).StudyInstanceUID)
    assert [c.split(":")[0] for c in study_choices(by_accession.text)] == [other_uid]
    by_date = client.post(
        url("pacs-search", cohort, pacs.peer), {"date_from": "2024-01-01", "date_to": "2024-01-31"}
    )
    hilde_uid = str(parse(pacs.hilde[0][1]).StudyInstanceUID)
    assert [c.split(":")[0] for c in study_choices(by_date.text)] == [hilde_uid]
    everything = client.post(url("pacs-search", cohort, pacs.peer), {"date_from": "2000-01-01"})
    assert len(study_choices(everything.text)) == 2, "the CT study is not offered"


def test_a_search_without_a_key_or_a_bad_choice_is_a_clear_400(client, coordinator, cohort, pacs):
    client.force_login(coordinator)
    empty = client.post(url("pacs-search", cohort, pacs.peer), {})
    assert empty.status_code == 400 and SEARCH_NEEDS_A_KEY in empty.text
    bad_date = client.post(url("pacs-search", cohort, pacs.peer), {"date_from": "yesterday"})
    assert bad_date.status_code == 400
    forged = client.post(url("pacs-retrieve", cohort, pacs.peer), {"study": "1.2.3; rm -rf"})
    assert forged.status_code == 400 and STUDY_CHOICE_INVALID in forged.text
    nothing = client.post(url("pacs-retrieve", cohort, pacs.peer), {})
    assert nothing.status_code == 400
    assert not DicomImportJob.objects.exists()


def test_a_coordinator_adds_a_pacs_and_a_sender_with_clear_errors(client, coordinator, cohort):
    client.force_login(coordinator)
    added = client.post(
        url("dicom-network", cohort),
        {
            "add": "peer",
            "name": "PACS 2",
            "ae_title": "PACS2",
            "host": "pacs.example",
            "port": 104,
            "retrieve_method": "move",
        },
    )
    assert added.status_code == 302
    assert PacsPeer.objects.get(name="PACS 2").retrieve_method == PacsPeer.RetrieveMethod.MOVE
    bad_port = client.post(
        url("dicom-network", cohort),
        {
            "add": "peer",
            "name": "P3",
            "ae_title": "P3",
            "host": "h",
            "port": 70000,
            "retrieve_method": "get",
        },
    )
    assert bad_port.status_code == 400
    sender = client.post(
        url("dicom-network", cohort),
        {"add": "sender", "ae_title": "MRI3T", "address": "10.1.2.3"},
    )
    assert sender.status_code == 302
    assert cohort.dicom_senders.get().address == "10.1.2.3"
    bad_address = client.post(
        url("dicom-network", cohort), {"add": "sender", "ae_title": "X", "address": "not-an-ip"}
    )
    assert bad_address.status_code == 400
    page = client.get(url("dicom-network", cohort))
    assert "PACS 2" in page.text and "MRI3T" in page.text


@pytest.mark.parametrize("route", ["dicom-network", "pacs-search", "pacs-echo", "pacs-retrieve"])
def test_only_the_cohorts_coordinators_reach_the_dicom_network_pages(
    client, cohort, clinician, radiologist, route
):
    peer = PacsPeer.objects.create(
        cohort=cohort, name="P", ae_title="P", host="127.0.0.1", port=free_port()
    )
    target = url(route, cohort, None if route == "dicom-network" else peer)
    method = client.post if route in ("pacs-echo", "pacs-retrieve") else client.get
    assert method(target).status_code == 302, "anonymous: to the login page"
    for user in (clinician, radiologist):
        client.force_login(user)
        assert method(target).status_code == 403
    elsewhere = user_with_role(
        "coordinator", username="elsewhere", cohort=CohortFactory(), staff=True
    )
    client.force_login(elsewhere)
    assert method(target).status_code == 404
    assert not DicomImportJob.objects.exists()
