"""Celery tasks of the cohorts app: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from iim_scoring.celery import DURABLE_TASK


@shared_task(
    name="cohorts.tasks.run_dicom_import_job",
    bind=True,
    **DURABLE_TASK,
)
def run_dicom_import_job(self, *, job_id: int) -> str:
    """Import an uploaded job's files; a finished job is left alone, a redelivered one resumed
    (the import is idempotent: files already stored count as duplicates)."""
    from cohorts.imaging.jobs import import_job_run

    return import_job_run(job_id=job_id, claim_token=self.request.id or "")


@shared_task(name="cohorts.tasks.sweep_media")
def sweep_media() -> int:
    """Daily: remove stored image files no row names (see cohorts.imaging.media)."""
    from cohorts.imaging.media import media_orphans_sweep

    sweep, _ = media_orphans_sweep()
    return sweep.removed
