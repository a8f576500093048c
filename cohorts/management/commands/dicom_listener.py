"""Run the DICOM C-STORE receiver: MR images sent to it are imported into a cohort."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cohorts.imaging.listener import DicomListener, listener_ssl_context
from cohorts.models import Cohort


class Command(BaseCommand):
    help = (
        "Receive MR images over DICOM (C-STORE) and import each association's images into "
        "a cohort, de-identified; instances are staged on disk before they are acknowledged, "
        "and a restart imports what an earlier run staged. Runs until interrupted."
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
            default=settings.DICOM_LISTENER_HOST,
            help="Address to listen on (default: DICOM_LISTENER_HOST, loopback unless set).",
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
        ssl_context = listener_ssl_context()
        listener = DicomListener(
            cohort=cohort,
            ae_title=ae_title,
            port=int(options["port"]),
            host=str(options["host"]),
            ssl_context=ssl_context,
        )
        self.stdout.write(
            f"Listening as {ae_title} on {options['host']}:{options['port']}"
            f"{' (TLS)' if ssl_context else ''}, importing into {cohort.slug}. Ctrl-C stops.",
        )
        self.stdout.flush()
        try:
            listener.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            listener.stop()
