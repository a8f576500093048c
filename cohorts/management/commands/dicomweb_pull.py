"""Pull MR studies from a PACS over DICOMweb into a cohort."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from cohorts.imaging.dicomweb import DicomwebPullFailed, dicomweb_pull
from cohorts.models import Cohort


class Command(BaseCommand):
    help = (
        "Pull the MR series of one study (--study) or of every MR study from a DICOMweb "
        "service (QIDO-RS/WADO-RS) into a cohort, de-identified; exits non-zero when any file "
        "was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cohort", required=True, help="Slug of the cohort to import into.")
        parser.add_argument(
            "--url", required=True, help="DICOMweb root, e.g. http://pacs:8042/dicom-web"
        )
        parser.add_argument("--study", default=None, help="Study Instance UID to pull.")
        parser.add_argument(
            "--study-date", default=None, help="QIDO StudyDate filter, e.g. 20240101-20241231."
        )
        parser.add_argument("--user", default=None, help="HTTP basic user name.")
        parser.add_argument(
            "--password",
            default=None,
            help="HTTP basic password (asked for when --user is given without it).",
        )

    def handle(self, *args: object, **options: object) -> None:
        slug = str(options["cohort"])
        cohort = Cohort.objects.filter(slug=slug).first()
        if cohort is None:
            raise CommandError(f"There is no cohort {slug!r}.")
        auth = None
        if options["user"]:
            password = options["password"] or getpass.getpass(f"Password for {options['user']}: ")
            auth = (str(options["user"]), str(password))
        filters = {"StudyDate": options["study_date"]} if options["study_date"] else None
        with tqdm(unit="file", desc="Fetching", disable=None) as bar:
            try:
                report = dicomweb_pull(
                    cohort=cohort,
                    url=str(options["url"]),
                    study_uid=options["study"] or None,
                    search_filters=filters,
                    auth=auth,
                    actor=None,
                    on_fetched=lambda count: bar.update(count - bar.n),
                )
            except DicomwebPullFailed as exc:
                raise CommandError(f"Nothing was imported: {exc}") from exc
        summary = report.summary()
        self.stdout.write(
            f"{summary['files']} files into {cohort.slug}: {summary['imported']} imported, "
            f"{summary['duplicates']} already there, {summary['rejected']} rejected, "
            f"{summary['skipped']} skipped (another file of their series was rejected)."
        )
        for file_report in report.files:
            if file_report.status == "rejected":
                line = f"  rejected {file_report.name}: {file_report.reason}"
                self.stdout.write(self.style.ERROR(line))
        if summary["rejected"]:
            n = summary["rejected"]
            raise CommandError(f"{n} file{'s' if n != 1 else ''} rejected (see above).")
