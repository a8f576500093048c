"""Import DICOM MR files from a file, a folder or a .zip on this machine into a cohort."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from cohorts.imaging.dicom.archive import ArchiveLimits, ArchiveRejected, iter_files
from cohorts.imaging.ingest import ImportReport, dicom_import
from cohorts.models import Cohort
from cohorts.services import cohort_create


class Command(BaseCommand):
    help = (
        "Import DICOM MR files (a file, a folder or a .zip) into a cohort through the "
        "de-identifying import; exits non-zero when any file was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A DICOM file, a folder (read recursively) or a .zip.")
        parser.add_argument("--cohort", required=True, help="Slug of the cohort to import into.")
        parser.add_argument(
            "--create", action="store_true", help="Create the cohort when it does not exist."
        )
        parser.add_argument("--title", default="", help="Title of a cohort made by --create.")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["path"]))
        cohort = _cohort(
            str(options["cohort"]), create=bool(options["create"]), title=str(options["title"])
        )
        limits = ArchiveLimits(max_total_bytes=settings.DICOM_MAX_ARCHIVE_BYTES)
        # tqdm draws on stderr only when it is a terminal; stdout keeps the summary.
        with tqdm(total=_count_files(path), unit="file", desc="Reading", disable=None) as bar:
            try:
                report = dicom_import(
                    cohort=cohort,
                    files=_advancing(iter_files(path, limits=limits), bar),
                    actor=None,
                )
            except ArchiveRejected as exc:
                raise CommandError(f"Nothing was imported: {exc.message}") from exc
        self._print_summary(report, cohort)
        rejected = report.count("rejected")
        if rejected:
            raise CommandError(
                f"{rejected} file{'s' if rejected != 1 else ''} rejected (see above)."
            )

    def _print_summary(self, report: ImportReport, cohort: Cohort) -> None:
        summary = report.summary()
        self.stdout.write(
            f"{summary['files']} files into {cohort.slug}: {summary['imported']} imported, "
            f"{summary['duplicates']} already there, {summary['rejected']} rejected, "
            f"{summary['skipped']} skipped (another file of their series was rejected)."
        )
        self.stdout.write(
            f"New: {summary['patients_created']} patients, {summary['studies_created']} studies, "
            f"{summary['series_created']} series, {summary['instances_created']} images."
        )
        for file_report in report.files:
            if file_report.status == "rejected":
                self.stdout.write(
                    self.style.ERROR(f"  rejected {file_report.name}: {file_report.reason}")
                )


def _cohort(slug: str, *, create: bool, title: str) -> Cohort:
    cohort = Cohort.objects.filter(slug=slug).first()
    if cohort is not None:
        return cohort
    if not create:
        raise CommandError(f"There is no cohort {slug!r}; pass --create to make it.")
    return cohort_create(slug=slug, title=title or slug, actor=None)


def _count_files(path: Path) -> int | None:
    """How many files the import will read, for the progress bar (None when unknown)."""
    if path.is_dir():
        return sum(len(files) for _root, _dirs, files in os.walk(path))
    if path.is_file() and zipfile.is_zipfile(path) and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            return sum(1 for info in archive.infolist() if not info.is_dir())
    return 1 if path.is_file() else None


def _advancing(files: Iterator[tuple[str, bytes]], bar: tqdm) -> Iterator[tuple[str, bytes]]:
    for item in files:
        yield item
        bar.update(1)
