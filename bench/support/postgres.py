"""The Postgres server the benches use, and the throwaway databases they make on it.

Which server, the first that can be had:
1. BENCH_POSTGRES_URL, when set (a URL of any database on the server, for a role that may
   create databases); the bench stops with a message when it does not answer;
2. the machine's own server at 127.0.0.1:5432 (user postgres, trust), when it answers;
3. the project's embedded PostgreSQL 18 server (iim_scoring/db/embedded.py) with its data in
   bench/.postgres (git-ignored), started if it is not running. BENCH_EMBEDDED_POSTGRES=1 goes
   straight to this one, as on a machine without 2.

The embedded server stops when the last process attached to it exits: `bench_postgres()`
attaches the bench's own process, which outlives every child it starts. The children reach
the server through DATABASE_URL (`Postgres.database_url`), a Unix socket for the embedded one.

Every database made with `create` is dropped by `drop_created`, unless `keep` was asked for it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from urllib.parse import urlparse

import psycopg
from psycopg import sql

from bench.support.env import REPO

MACHINE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
EMBEDDED_DIR = REPO / "bench" / ".postgres"


@dataclass
class Postgres:
    """One server: a URL of its maintenance database, and the databases this run made."""

    url: str
    where: str
    created: list[str] = field(default_factory=list)

    def database_url(self, name: str) -> str:
        """The URL of database `name` on this server (psycopg, django-environ, libpq)."""
        return urlparse(self.url)._replace(path=f"/{name}").geturl()

    def exists(self, name: str) -> bool:
        with psycopg.connect(self.url, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return found.fetchone() is not None

    def create(self, name: str, *, template: str | None = None) -> str:
        """A new database (a copy of `template` when given), dropped at the end; its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)
        self.created.append(name)
        return self.database_url(name)

    def drop(self, name: str) -> None:
        """Drop database `name` now, whoever is connected to it."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)

    def drop_at_end(self, name: str) -> None:
        """Count a database this run did not create among those dropped at the end."""
        if name not in self.created:
            self.created.append(name)

    def keep(self, name: str) -> None:
        """Leave database `name` in place at the end."""
        if name in self.created:
            self.created.remove(name)

    def drop_created(self) -> None:
        """Drop every database made by this run and not kept; a failure is told, not raised
        (the rest of the cleanup must go on)."""
        for name in reversed(list(self.created)):
            try:
                self.drop(name)
            except psycopg.Error as exc:
                print(f"note: could not drop the bench database {name}: {exc}", file=sys.stderr)


def bench_postgres() -> Postgres:
    """The server the bench uses (see the module doc), reachable and, if embedded, attached
    for as long as this process lives."""
    explicit = os.environ.get("BENCH_POSTGRES_URL")
    if explicit:
        problem = _problem(explicit)
        if problem:
            print(f"needs Postgres at {explicit} (BENCH_POSTGRES_URL): {problem}", file=sys.stderr)
            raise SystemExit(2)
        return Postgres(explicit, f"the server of BENCH_POSTGRES_URL ({explicit})")
    if os.environ.get("BENCH_EMBEDDED_POSTGRES", "") in ("", "0") and not _problem(MACHINE_URL):
        return Postgres(MACHINE_URL, "the machine's server at 127.0.0.1:5432")
    from iim_scoring.db.embedded import database_settings, url_of

    settings = database_settings(EMBEDDED_DIR)
    where = f"the embedded PostgreSQL server (data in {EMBEDDED_DIR.relative_to(REPO)})"
    return Postgres(url_of(settings, name="postgres"), where)


def _problem(url: str) -> str | None:
    """Why the server of `url` does not answer, or None when it does."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
