"""The coordinator's web upload: private storage, a Celery task (eager here), a progress
endpoint, a per-file report, and nothing left of the upload afterwards."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cohorts.imaging.jobs import UPLOAD_ROOT, UPLOAD_TOO_LARGE, import_job_run
from cohorts.models import DicomImportJob, Instance, Series
from tests import factories
from tests.dicom_import.conftest import (
    assert_nothing_identifying_stored,
    assert_nothing_written,
    assert_pixels_unchanged,
    real_file,
    real_files,
    synthetic_files,
)

pytestmark = pytest.mark.django_db


def zipped(files: list[tuple[str, bytes]], *, name: str = "study.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files:
            archive.writestr(member, data)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def upload(client, cohort, uploads, django_capture_on_commit_callbacks):
    url = reverse("cohorts:dicom-import", args=[cohort.slug])
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(url, {"files": uploads})


def only_job() -> DicomImportJob:
    return DicomImportJob.objects.get()


def assert_upload_gone() -> None:
    assert not list((Path(settings.MEDIA_ROOT) / UPLOAD_ROOT).rglob("*.upload"))


def test_a_zip_is_imported_with_a_report_per_file(
    client,
    coordinator,
    cohort,
    django_capture_on_commit_callbacks,
):
    files = real_files(["MR_small.dcm", "MR2_UNCR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"])
    files += synthetic_files()
    bad = [
        ("notes/readme.txt", b"not an image"),
        ("CT_small.dcm", real_file("CT_small.dcm").read_bytes()),
    ]
    client.force_login(coordinator)
    response = upload(client, cohort, [zipped(files + bad)], django_capture_on_commit_callbacks)
    job = only_job()
    assert response.status_code == 302
    assert response["Location"] == reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk])
    assert job.status == "done" and job.created_by == coordinator
    total = len(files) + len(bad)
    assert (job.imported, job.rejected, job.files_done, job.files_total) == (
        len(files),
        2,
        total,
        total,
    )
    reasons = {row["name"]: row["reason"] for row in job.report}
    assert "not a DICOM file" in reasons["study.zip/notes/readme.txt"]
    assert "CT image" in reasons["study.zip/CT_small.dcm"]
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "study.zip/CT_small.dcm" in html and "only MR images can be imported" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html), "the CSP forbids inline scripts"
    assert_upload_gone()
    assert_nothing_identifying_stored(files)
    for _name, data in files:
        assert_pixels_unchanged(data)


def test_many_dicom_files_can_be_uploaded_at_once(
    client,
    coordinator,
    cohort,
    django_capture_on_commit_callbacks,
):
    files = synthetic_files(slices=3)
    uploads = [SimpleUploadedFile(name.replace("/", "-"), data) for name, data in files]
    client.force_login(coordinator)
    upload(client, cohort, uploads, django_capture_on_commit_callbacks)
    job = only_job()
    assert (job.status, job.imported, job.files_total) == ("done", 6, 6)
    assert Series.objects.count() == 2
    assert_upload_gone()


def test_the_status_endpoint_reports_progress_as_json(
    client,
    coordinator,
    cohort,
    django_capture_on_commit_callbacks,
):
    client.force_login(coordinator)
    upload(client, cohort, [zipped(synthetic_files(slices=2))], django_capture_on_commit_callbacks)
    job = only_job()
    url = reverse("cohorts:dicom-import-job-status", args=[cohort.slug, job.pk])
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "done",
        "finished": True,
        "files_done": 4,
        "files_total": 4,
        "percent": 100,
        "imported": 4,
        "duplicates": 0,
        "rejected": 0,
        "skipped": 0,
    }


def test_a_queued_job_shows_a_progress_bar_polled_by_a_static_script(
    client,
    coordinator,
    cohort,
):
    # Without running the on-commit callback the job stays queued, as behind a busy worker.
    client.force_login(coordinator)
    client.post(
        reverse("cohorts:dicom-import", args=[cohort.slug]),
        {"files": [zipped(synthetic_files(slices=1))]},
    )
    job = only_job()
    page = client.get(
        reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk])
    ).content.decode()
    assert 'id="import-progress"' in page and 'data-finished="false"' in page
    assert "js/dicom_import.js" in page
    status = client.get(reverse("cohorts:dicom-import-job-status", args=[cohort.slug, job.pk]))
    assert status.json()["status"] == "queued" and status.json()["finished"] is False
    stored = list((Path(settings.MEDIA_ROOT) / UPLOAD_ROOT).rglob("*.upload"))
    assert len(stored) == 1, "the upload waits in private storage"
    assert not str(stored[0]).startswith(str(settings.STATIC_ROOT))
    assert import_job_run(job_id=job.pk, claim_token="task-1") == "done"
    assert_upload_gone()


def test_the_task_is_idempotent_and_a_redelivered_task_resumes_its_own_job(
    client,
    coordinator,
    cohort,
):
    client.force_login(coordinator)
    client.post(
        reverse("cohorts:dicom-import", args=[cohort.slug]),
        {"files": [zipped(synthetic_files(slices=2))]},
    )
    job = only_job()
    # A worker died while running the job: the broker redelivers the same task id.
    DicomImportJob.objects.filter(pk=job.pk).update(status="running", claimed_by="task-1")
    assert import_job_run(job_id=job.pk, claim_token="another-task") == "skipped"
    assert import_job_run(job_id=job.pk, claim_token="task-1") == "done"
    assert import_job_run(job_id=job.pk, claim_token="task-1") == "skipped"  # finished
    assert Instance.objects.count() == 4 and only_job().imported == 4


def test_the_celery_task_runs_the_job_from_its_id(client, coordinator, cohort):
    from cohorts.tasks import run_dicom_import_job

    client.force_login(coordinator)
    client.post(
        reverse("cohorts:dicom-import", args=[cohort.slug]),
        {"files": [zipped(synthetic_files(slices=1))]},
    )
    job = only_job()
    assert run_dicom_import_job.delay(job_id=job.pk).get() == "done"
    assert run_dicom_import_job.delay(job_id=job.pk).get() == "skipped"
    assert run_dicom_import_job.acks_late and run_dicom_import_job.reject_on_worker_lost


@pytest.mark.parametrize(
    ("member", "words"),
    [("../../etc/evil.dcm", "climbs out"), ("/abs/evil.dcm", "absolute path")],
)
def test_a_zip_with_an_unsafe_path_is_refused_whole(
    client,
    coordinator,
    cohort,
    member,
    words,
    django_capture_on_commit_callbacks,
):
    files = synthetic_files(slices=1) + [(member, real_file("MR_small.dcm").read_bytes())]
    client.force_login(coordinator)
    upload(client, cohort, [zipped(files, name="evil.zip")], django_capture_on_commit_callbacks)
    job = only_job()
    assert job.status == "failed" and words in job.error
    assert job.report == [{"name": "evil.zip", "status": "rejected", "reason": job.error}]
    assert_nothing_written()
    page = client.get(reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk]))
    assert words in page.content.decode()


def test_a_zip_that_unpacks_past_the_limit_is_refused_whole(
    client,
    coordinator,
    cohort,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DICOM_MAX_ARCHIVE_BYTES = 200_000
    files = synthetic_files(slices=1) + [("padding.dcm", b"\0" * 400_000)]  # deflates to ~1 KB
    client.force_login(coordinator)
    upload(client, cohort, [zipped(files)], django_capture_on_commit_callbacks)
    job = only_job()
    assert job.status == "failed" and "at most 200,000" in job.error
    assert_nothing_written()


def test_an_upload_past_the_limit_is_refused_before_anything_is_kept(
    client,
    coordinator,
    cohort,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DICOM_MAX_ARCHIVE_BYTES = 1000
    client.force_login(coordinator)
    data = real_file("MR_small.dcm").read_bytes()
    response = upload(
        client, cohort, [SimpleUploadedFile("a.dcm", data)], django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    message = UPLOAD_TOO_LARGE.format(size=len(data), limit=1000)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not DicomImportJob.objects.exists()
    assert_nothing_written()


def test_an_empty_form_asks_for_files(client, coordinator, cohort):
    client.force_login(coordinator)
    response = client.post(reverse("cohorts:dicom-import", args=[cohort.slug]), {})
    assert response.status_code == 200 and not DicomImportJob.objects.exists()
    assert "This field is required" in response.content.decode()


# --- who may upload ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["clinician", "statistician", "radiologist"])
def test_other_roles_cannot_upload_or_see_imports(
    client,
    cohort,
    coordinator,
    persona,
    request,
    django_capture_on_commit_callbacks,
):
    client.force_login(coordinator)
    upload(client, cohort, [zipped(synthetic_files(slices=1))], django_capture_on_commit_callbacks)
    job = only_job()
    client.force_login(request.getfixturevalue(persona))
    urls = [
        reverse("cohorts:dicom-import", args=[cohort.slug]),
        reverse("cohorts:dicom-import-job", args=[cohort.slug, job.pk]),
        reverse("cohorts:dicom-import-job-status", args=[cohort.slug, job.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(urls[0], {"files": [zipped(synthetic_files(slices=1))]}).status_code == 403
    assert DicomImportJob.objects.count() == 1


def test_a_coordinator_of_another_cohort_gets_404(
    client,
    cohort,
    coordinator,
    django_capture_on_commit_callbacks,
):
    client.force_login(coordinator)
    upload(client, cohort, [zipped(synthetic_files(slices=1))], django_capture_on_commit_callbacks)
    job = only_job()
    other = factories.CohortFactory()
    outsider = factories.user_with_role(
        "coordinator", username="outsider", cohort=other, staff=True
    )
    client.force_login(outsider)
    assert client.get(reverse("cohorts:dicom-import", args=[cohort.slug])).status_code == 404
    for name in ("cohorts:dicom-import-job", "cohorts:dicom-import-job-status"):
        assert client.get(reverse(name, args=[cohort.slug, job.pk])).status_code == 404
        # Nor through their own cohort's URL.
        assert client.get(reverse(name, args=[other.slug, job.pk])).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, cohort):
    response = client.get(reverse("cohorts:dicom-import", args=[cohort.slug]))
    assert response.status_code == 302 and "login" in response["Location"]
