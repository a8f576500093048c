"""Recompute a cohort's scores and analyses synchronously, with a progress bar."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.beyond import cohort_beyond_recompute
from analytics.recompute import cohort_analyses_recompute
from cohorts.models import Cohort
from scoring.models import Read


class Command(BaseCommand):
    help = "Recompute the stored scores and analyses of a cohort now (what the worker does)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cohort", required=True, help="Cohort slug.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Recompute the analyses even if their input is unchanged.",
        )

    def handle(self, *args, **options) -> None:
        cohort = Cohort.objects.filter(slug=options["cohort"]).first()
        if cohort is None:
            raise CommandError(f"No cohort with slug {options['cohort']!r}.")
        total = Read.objects.filter(study__patient__cohort=cohort).count()
        with tqdm(total=total, unit="read", desc="read scores", disable=None) as bar:
            outcome = cohort_analyses_recompute(
                cohort_id=cohort.pk,
                force=options["force"],
                claim_token="manage.py",
                progress=bar.update,
            )
        if outcome == "busy":
            raise CommandError("A worker is recomputing this cohort right now; try again later.")
        self.stdout.write(self.style.SUCCESS(f"{cohort.slug}: {outcome}"))
        beyond = cohort_beyond_recompute(cohort_id=cohort.pk, force=options["force"])
        self.stdout.write(f"{cohort.slug} beyond the paper: {beyond}")
        if beyond == "failed":
            raise CommandError("The analyses beyond the paper failed; the log has the reason.")
