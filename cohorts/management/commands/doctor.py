"""Report configuration problems in plain words (exit status 1 when any check fails)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from iim_scoring.health import configuration_checks


class Command(BaseCommand):
    help = "Check the configuration: database, broker, secrets, media, viewer, migrations."

    def handle(self, *args, **options) -> None:
        failed = 0
        for check in configuration_checks():
            mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {check.name:<18} {check.detail}")
            failed += not check.ok
        if failed:
            raise CommandError(f"{failed} problem(s) found.")
