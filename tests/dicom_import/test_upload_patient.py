"""The upload lets the coordinator say whose images these are, and names and links any
patient it had to create."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cohorts.models import ImagingStudy, Patient
from tests import factories
from tests.dicom_import.conftest import synthetic_files
from tests.dicom_import.test_upload import only_job, zipped

pytestmark = pytest.mark.django_db


def _post(client, cohort, data, django_capture_on_commit_callbacks):
    url = reverse("cohorts:dicom-import", args=[cohort.slug])
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(url, data)


def test_a_chosen_patient_receives_the_images_whatever_their_patient_id(
    client, coordinator, cohort, django_capture_on_commit_callbacks
):
    chosen = factories.PatientFactory(cohort=cohort, pseudonym="IIM-0007")
    client.force_login(coordinator)
    page = client.get(reverse("cohorts:dicom-import", args=[cohort.slug]))
    assert b"IIM-0007" in page.content  # offered in the patient choice
    files = [zipped(synthetic_files(slices=2))]
    _post(
        client, cohort, {"files": files, "patient": chosen.pk}, django_capture_on_commit_callbacks
    )
    assert Patient.objects.filter(cohort=cohort).count() == 1  # nobody new
    assert set(ImagingStudy.objects.values_list("patient__pseudonym", flat=True)) == {"IIM-0007"}
    job_page = client.get(reverse("cohorts:dicom-import-job", args=[cohort.slug, only_job().pk]))
    assert b'id="import-patient"' in job_page.content


def test_an_unknown_patient_becomes_a_new_patient_shown_and_linked_on_the_job_page(
    client, coordinator, cohort, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    files = [zipped(synthetic_files(slices=1))]
    _post(client, cohort, {"files": files}, django_capture_on_commit_callbacks)
    (created,) = Patient.objects.filter(cohort=cohort)
    job = only_job()
    assert job.new_patients == [created.pseudonym]
    page = client.get(reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk])).content
    link = reverse("cohorts:patient-detail", args=[cohort.slug, created.pseudonym])
    assert f'href="{link}"'.encode() in page
    assert b"New patient created" in page


def test_a_patient_of_another_cohort_cannot_be_chosen(
    client, coordinator, cohort, django_capture_on_commit_callbacks
):
    elsewhere = factories.PatientFactory(cohort=factories.CohortFactory())
    client.force_login(coordinator)
    files = [zipped(synthetic_files(slices=1))]
    response = _post(
        client,
        cohort,
        {"files": files, "patient": elsewhere.pk},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200  # the form again, with the reason
    assert b"Select a valid choice" in response.content
    assert not ImagingStudy.objects.exists()
