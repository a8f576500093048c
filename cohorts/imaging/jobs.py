"""Web uploads of DICOM: saved privately, imported by a Celery task, reported file by file.

The coordinator's files wait in the default storage under `import-uploads/<random>/` (nothing
under MEDIA_ROOT is ever served; on S3 a worker on another machine reads them the same way),
named by number rather than by their uploaded names. Whatever the outcome, the uploaded files
are deleted when the job ends: only the pseudonymized files the import stores remain.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import time
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from cohorts.audit import audit_record
from cohorts.imaging.dicom.archive import ArchiveLimits, ArchiveRejected, iter_files
from cohorts.imaging.ingest import ImportReport, dicom_import
from cohorts.models import Cohort, DicomImportJob, Patient

logger = logging.getLogger(__name__)

UPLOAD_ROOT: Final = "import-uploads"
NO_FILES: Final = "Choose a .zip file or one or more DICOM files."
UPLOAD_TOO_LARGE: Final = (
    "The upload is {size:,} bytes; at most {limit:,} bytes can be imported at once."
)
NOT_QUEUED: Final = "The import could not be queued ({error}); upload the files again."
STOPPED: Final = (
    "The import stopped on an unexpected error ({error}); the series being stored was not "
    "kept. Upload the files again or tell the administrator."
)
_PROGRESS_EVERY_S = 0.5  # how often a running job writes its progress for the page to poll


def import_job_create(
    *,
    cohort: Cohort,
    actor: AbstractBaseUser | None,
    uploads: Sequence[UploadedFile],
    patient: Patient | None = None,
) -> DicomImportJob:
    """Keep the uploaded files privately and queue their import (after the commit). With
    `patient`, every file goes to that patient of the cohort, whatever patient ID it carries."""
    if patient is not None and patient.cohort_id != cohort.pk:
        raise ValidationError("That patient is not in this cohort.")
    if not uploads:
        raise ValidationError(NO_FILES)
    size = sum(upload.size or 0 for upload in uploads)
    limit = settings.DICOM_MAX_ARCHIVE_BYTES
    if size > limit:
        raise ValidationError(UPLOAD_TOO_LARGE.format(size=size, limit=limit))
    prefix = f"{UPLOAD_ROOT}/{secrets.token_hex(16)}"
    saved: list[dict[str, Any]] = []
    try:
        for index, upload in enumerate(uploads):
            path = default_storage.save(f"{prefix}/{index:05d}.upload", upload)
            saved.append({"name": (upload.name or f"file {index + 1}")[:255], "path": path})
        with transaction.atomic():
            job = DicomImportJob.objects.create(
                cohort=cohort,
                created_by=actor if actor is not None and actor.is_authenticated else None,
                upload_prefix=prefix,
                uploads=saved,
                files_total=len(saved),
                patient=patient,
            )
            audit_record(
                actor=actor,
                action="dicom.upload",
                target=job,
                cohort=cohort,
                new={"files": len(saved), "bytes": size},
            )
            transaction.on_commit(partial(import_job_queue, job.pk))
    except BaseException:
        _delete_files([item["path"] for item in saved], prefix)
        raise
    return job


def receipt_job_create(
    *, cohort: Cohort, calling_ae: str, peer_address: str, staging_dir: str
) -> DicomImportJob:
    """The job of one C-STORE association, receiving into `staging_dir` until it ends."""
    with transaction.atomic():
        job = DicomImportJob.objects.create(
            cohort=cohort,
            source=DicomImportJob.Source.CSTORE,
            status=DicomImportJob.Status.RECEIVING,
            calling_ae=calling_ae[:16],
            peer_address=peer_address or None,
            staging_dir=staging_dir,
        )
        audit_record(
            actor=None,
            action="dicom.receive",
            target=job,
            cohort=cohort,
            new={"calling_ae": job.calling_ae, "peer_address": peer_address},
        )
    return job


def receipt_refusals_record(*, job_id: int, refused: list[dict[str, str]]) -> None:
    """Keep the instances a receiving job refused (they reach its report); only the
    association's own thread writes them, so the whole list is written each time."""
    DicomImportJob.objects.filter(pk=job_id).update(report=refused, files_total=len(refused))


def receipt_job_close(*, job_id: int, names: list[str], calling_ae: str) -> bool:
    """The association ended (or its listener died): its staged instances are the job's
    files, and the job is ready to import. False when the job was already closed."""
    uploads = [
        {"name": f"{calling_ae or 'sender'} #{int(name.split('.')[0])}", "path": name}
        for name in names
    ]
    return bool(
        DicomImportJob.objects.filter(pk=job_id, status=DicomImportJob.Status.RECEIVING).update(
            status=DicomImportJob.Status.QUEUED, uploads=uploads
        )
    )


def receipt_jobs_unfinished(*, cohort: Cohort, staging_root: str) -> list[DicomImportJob]:
    """C-STORE jobs of a listener (its cohort and staging root) that a restart must finish."""
    return list(
        DicomImportJob.objects.filter(
            cohort=cohort,
            source=DicomImportJob.Source.CSTORE,
            staging_dir__startswith=staging_root.rstrip("/") + "/",
            status__in=[
                DicomImportJob.Status.RECEIVING,
                DicomImportJob.Status.QUEUED,
                DicomImportJob.Status.RUNNING,
            ],
        ).order_by("pk")
    )


def import_job_queue(job_id: int) -> None:
    """Hand a committed job to a Celery worker (a broker outage fails the job, visibly)."""
    from cohorts.tasks import run_dicom_import_job

    try:
        run_dicom_import_job.delay(job_id=job_id)
    except Exception as exc:  # a broker outage: say so on the page rather than wait forever
        if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            raise
        logger.exception("dicom import job %s could not be queued", job_id)
        job = DicomImportJob.objects.get(pk=job_id)
        _finish(job, DicomImportJob.Status.FAILED, error=NOT_QUEUED.format(error=exc))


def import_job_run(*, job_id: int, claim_token: str = "") -> str:
    """Run a queued job once; a redelivered task (same token) takes its own job over.

    Returns the job's final status, or "skipped" when another run holds or finished it.
    """
    claimable = Q(status=DicomImportJob.Status.QUEUED)
    if claim_token:
        claimable |= Q(status=DicomImportJob.Status.RUNNING, claimed_by=claim_token)
    claimed = (
        DicomImportJob.objects.filter(pk=job_id)
        .filter(claimable)
        .update(
            status=DicomImportJob.Status.RUNNING, claimed_by=claim_token, started_at=timezone.now()
        )
    )
    if not claimed:
        return "skipped"
    job = DicomImportJob.objects.select_related("cohort", "created_by").get(pk=job_id)
    tracker = _ProgressTracker(job)
    try:
        if job.source == DicomImportJob.Source.RETRIEVE:
            from cohorts.imaging.pacs import retrieved_files  # pacs builds on this module

            files = retrieved_files(job)
            DicomImportJob.objects.filter(pk=job.pk).update(report=[], files_done=0)
        else:
            files = _uploaded_files(job, tracker)
            total = _count_files(job)
            DicomImportJob.objects.filter(pk=job.pk).update(files_total=total, files_done=0)
        report = dicom_import(
            cohort=job.cohort,
            files=tracker.wrap(files),
            actor=job.created_by,
            patient=job.patient,
        )
    except ArchiveRejected as exc:
        rows = [{"name": tracker.current_upload, "status": "rejected", "reason": exc.message}]
        return _finish(job, DicomImportJob.Status.FAILED, error=exc.message, report_rows=rows)
    except OperationalError:
        raise  # the database went away: the task retries, the uploads stay for it
    except Exception as exc:
        logger.exception("dicom import job %s stopped", job.pk)
        return _finish(job, DicomImportJob.Status.FAILED, error=STOPPED.format(error=exc))
    return _finish(job, DicomImportJob.Status.DONE, report=report)


class _ProgressTracker:
    """Counts files as the import reads them and writes the count now and then."""

    def __init__(self, job: DicomImportJob) -> None:
        self.job_id = job.pk
        self.done = 0
        self.current_upload = ""
        self._written_at = 0.0

    def wrap(self, files: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
        for item in files:
            yield item
            self.done += 1
            now = time.monotonic()
            if now - self._written_at >= _PROGRESS_EVERY_S:
                self._written_at = now
                DicomImportJob.objects.filter(pk=self.job_id).update(files_done=self.done)


def _open_upload(job: DicomImportJob, path: str) -> BinaryIO:
    """An uploaded file from the default storage, or a staged instance from the listener's
    local folder (C-STORE jobs)."""
    if job.staging_dir:
        return (Path(job.staging_dir) / path).open("rb")
    return default_storage.open(path, "rb")


def _looks_like_zip(name: str, head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return False
    return name.lower().endswith(".zip") or head.startswith(b"PK\x03\x04")


def _uploaded_files(job: DicomImportJob, tracker: _ProgressTracker) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every uploaded file, zips read member by member."""
    limits = ArchiveLimits(max_total_bytes=settings.DICOM_MAX_ARCHIVE_BYTES)
    for upload in job.uploads:
        tracker.current_upload = upload["name"]
        with _open_upload(job, upload["path"]) as handle:
            head = handle.read(132)
            handle.seek(0)
            if _looks_like_zip(upload["name"], head):
                for member, data in iter_files(handle, limits=limits):
                    yield f"{upload['name']}/{member}", data
            else:
                yield upload["name"], handle.read()


def _count_files(job: DicomImportJob) -> int:
    """How many files the job will read (zip members counted from the directory)."""
    total = 0
    for upload in job.uploads:
        with _open_upload(job, upload["path"]) as handle:
            head = handle.read(132)
            handle.seek(0)
            if not _looks_like_zip(upload["name"], head):
                total += 1
                continue
            try:
                with zipfile.ZipFile(handle) as archive:
                    total += sum(1 for info in archive.infolist() if not info.is_dir())
            except (zipfile.BadZipFile, OSError):
                total += 1  # the import itself reports the bad archive
    return total


def _finish(
    job: DicomImportJob,
    status: str,
    *,
    report: ImportReport | None = None,
    report_rows: list[dict[str, str]] | None = None,
    error: str = "",
) -> str:
    """Store the outcome and delete the uploaded files, whatever happened."""
    rows = report_rows or []
    if report is not None:
        rows = [{"name": f.name, "status": f.status, "reason": f.reason} for f in report.files]
    # Instances refused on arrival (by the listener, or in a retrieval) come first.
    refused = DicomImportJob.objects.values_list("report", flat=True).get(pk=job.pk)
    rows = list(refused or []) + rows
    count = Counter(row["status"] for row in rows)
    DicomImportJob.objects.filter(pk=job.pk).update(
        status=status,
        files_done=len(rows),
        files_total=len(rows),
        imported=count["imported"],
        duplicates=count["duplicate"],
        rejected=count["rejected"],
        skipped=count["skipped"],
        report=rows,
        new_patients=report.new_patients if report is not None else [],
        error=error[:4000],
        claimed_by="",
        finished_at=timezone.now(),
        # A retrieval's studies were source UIDs: kept no longer than the job.
        uploads=[] if job.source == DicomImportJob.Source.RETRIEVE else job.uploads,
    )
    if job.staging_dir:
        shutil.rmtree(job.staging_dir, ignore_errors=True)
    elif job.source == DicomImportJob.Source.UPLOAD:
        _delete_files([upload["path"] for upload in job.uploads], job.upload_prefix)
    logger.info("dicom import job %s %s: %s", job.pk, status, report.summary() if report else error)
    return status


def _delete_files(paths: list[str], prefix: str) -> None:
    for path in paths:
        try:
            default_storage.delete(path)
        except OSError:
            logger.exception("could not delete the uploaded file %s", path)
    try:  # the local file system keeps the empty folder; object stores have none
        folder = default_storage.path(prefix)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):
        os.rmdir(folder)
