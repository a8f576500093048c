"""`manage.py import_scores --cohort SLUG FILE [--reader USERNAME]`: import an existing score
sheet (grades or clinical data, CSV or XLSX). Nothing is written if any row is bad; every
problem is printed with its row, column and reason."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cohorts.models import Cohort
from sheets.files import ImportRefused
from sheets.imports import GRADES, PATIENTS, score_sheet_import


class Command(BaseCommand):
    help = (
        "Import a score sheet into a cohort: grades in the grades export's long format, or "
        "clinical data in the patients export's format (CSV or XLSX). All or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV or XLSX file")
        parser.add_argument("--cohort", required=True, help="slug of the cohort")
        parser.add_argument(
            "--reader", help="radiologist who gave every grade (else the file's reader column)"
        )
        parser.add_argument(
            "--kind", choices=[GRADES, PATIENTS], help="default: detected from the columns"
        )
        parser.add_argument("--protocol", help="protocol slug (default: the cohort's protocol)")
        parser.add_argument("--actor", help="username recorded as the importer in the audit trail")

    def handle(self, *args: object, **options: object) -> None:
        cohort = Cohort.objects.filter(slug=options["cohort"]).first()
        if cohort is None:
            raise CommandError(f"No cohort with slug {options['cohort']!r}.")
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"No user {options['actor']!r}.")
        path = Path(str(options["file"]))
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            summary = score_sheet_import(
                cohort=cohort,
                content=path.read_bytes(),
                filename=path.name,
                actor=actor,
                reader=options["reader"] or None,
                kind=options["kind"] or None,
                protocol=options["protocol"] or None,
            )
        except ImportRefused as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {summary.rows_text} into {cohort.slug}: {summary.counts_text}."
            )
        )
