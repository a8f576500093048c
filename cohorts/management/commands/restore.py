"""Restore a backup made by `manage.py backup`: `manage.py restore DIR`.

Stop web and workers first: the database's tables are replaced by the backup's, in one
transaction, and the image files are unpacked into MEDIA_ROOT.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from iim_scoring.db.embedded import url_of
from iim_scoring.db.tools import pg_program
from iim_scoring.health import database_server


class Command(BaseCommand):
    help = "Restore DIR/db.dump into the database and DIR/media.tar.gz into MEDIA_ROOT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options) -> None:
        dump, media_archive = directory / "db.dump", directory / "media.tar.gz"
        for path in (dump, media_archive):
            if not path.is_file():
                raise CommandError(f"{path} is missing: not a backup made by `manage.py backup`.")
        self.stdout.write(f"Restoring into {database_server()} and {settings.MEDIA_ROOT}")
        program = pg_program("pg_restore")
        url = url_of(connection.settings_dict)
        connection.close()  # the restore replaces tables this connection may hold open
        subprocess.run(
            [
                program,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname",
                url,
                str(dump),
            ],
            check=True,
        )
        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        with tarfile.open(media_archive, "r:gz") as archive:
            archive.extractall(media, filter="data")
        self.stdout.write(f"restored from {directory}")
