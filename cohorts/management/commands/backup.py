"""Back up the database and the image files together: `manage.py backup DIR`.

Writes DIR/db.dump (pg_dump, custom format) and DIR/media.tar.gz (MEDIA_ROOT), from whichever
server the settings name: the embedded one or DATABASE_URL's.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from iim_scoring.db.embedded import url_of
from iim_scoring.db.tools import pg_program
from iim_scoring.health import database_server


class Command(BaseCommand):
    help = "Back up the database and MEDIA_ROOT into DIR (db.dump, media.tar.gz)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Backing up {database_server()} and {settings.MEDIA_ROOT}")
        subprocess.run(
            [
                pg_program("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--dbname",
                url_of(connection.settings_dict),
                "--file",
                str(directory / "db.dump"),
            ],
            check=True,
        )
        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        with tarfile.open(directory / "media.tar.gz", "w:gz") as archive:
            archive.add(media, arcname=".")
        self.stdout.write(f"backup written to {directory}")
