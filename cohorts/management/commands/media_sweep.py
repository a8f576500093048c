"""Remove stored image files that no row names (left by a killed erasure or import)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from cohorts.imaging.media import SWEEP_MIN_AGE, media_orphans_sweep


class Command(BaseCommand):
    help = "Remove stored image files that no instance row names and that are old enough."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age-hours",
            type=float,
            default=SWEEP_MIN_AGE.total_seconds() / 3600,
            help="Only files older than this (default 24: no import is still storing them).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the orphans, remove nothing."
        )

    def handle(self, *args, **options) -> None:
        sweep, orphans = media_orphans_sweep(
            min_age=timedelta(hours=options["min_age_hours"]), dry_run=options["dry_run"]
        )
        for name in orphans:
            self.stdout.write(("would remove " if options["dry_run"] else "removed ") + name)
        self.stdout.write(
            f"{sweep.files_checked} files checked: {sweep.orphans} named by no row"
            f" ({sweep.removed} removed), {sweep.too_recent} too recent to tell"
        )
