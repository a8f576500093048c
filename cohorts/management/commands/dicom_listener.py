"""Run the DICOM C-STORE receiver: MR images sent to it are imported into a cohort."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cohorts.imaging.listener import DicomListener
from cohorts.models import Cohort


class Command(BaseCommand):
    help = (
        "Receive MR images over DICOM (C-STORE) and import each association's images into "
        "a cohort, de-identified. Runs until interrupted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ae-title",
            default=settings.DICOM_LISTENER_AE_TITLE,
            help="The AE title senders must call (default: DICOM_LISTENER_AE_TITLE).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=settings.DICOM_LISTENER_PORT,
            help="TCP port (default: DICOM_LISTENER_PORT).",
        )
        parser.add_argument(
            "--host",
            default="0.0.0.0",  # noqa: S104 - scanners on the network are the point
            help="Address to listen on (default: all interfaces).",
        )
        parser.add_argument("--cohort", required=True, help="Slug of the cohort to import into.")

    def handle(self, *args: object, **options: object) -> None:
        slug = str(options["cohort"])
        cohort = Cohort.objects.filter(slug=slug).first()
        if cohort is None:
            raise CommandError(f"There is no cohort {slug!r}.")
        ae_title = str(options["ae_title"])
        if not 0 < len(ae_title) <= 16:
            raise CommandError("An AE title has 1 to 16 characters.")
        listener = DicomListener(
            cohort=cohort, ae_title=ae_title, port=int(options["port"]), host=str(options["host"])
        )
        self.stdout.write(
            f"Listening as {ae_title} on {options['host']}:{options['port']}, importing into "
            f"{cohort.slug}. Ctrl-C stops."
        )
        try:
            listener.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            listener.stop()
