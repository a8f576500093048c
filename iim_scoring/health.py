"""Health of the running system: the database and the broker, in words and as /healthz."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from iim_scoring.db.embedded import describe


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def database_server() -> str:
    """The server this process talks to, in words."""
    embedded_dir = None if settings.USING_DATABASE_SERVICE else settings.EMBEDDED_POSTGRES_DIR
    return describe(connection.settings_dict, embedded_dir=embedded_dir)


def _server_kind() -> str:
    return "DATABASE_URL" if settings.USING_DATABASE_SERVICE else "the embedded server"


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True, f"{database_server()} answers")
    except Exception as exc:  # reported, not raised
        return Check(
            "database",
            False,
            f"cannot reach the database ({_server_kind()}): {type(exc).__name__}",
        )


def check_broker() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check("broker", True, "no broker configured: tasks run in-process (eager)")
    from iim_scoring.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return Check("broker", True, "the Celery broker answers")
    except Exception as exc:
        return Check("broker", False, f"cannot reach the Celery broker: {type(exc).__name__}")


def check_workers(timeout: float = 1.0) -> Check:
    """Which Celery workers answer a ping, and how many tasks wait in their queues."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check("workers", True, "no workers needed: tasks run in-process (eager)")
    from iim_scoring.celery import app

    try:
        replies = app.control.ping(timeout=timeout)
        waiting = _queued_tasks(app)
    except Exception as exc:  # reported, not raised
        return Check("workers", False, f"cannot ask the workers: {type(exc).__name__}")
    names = sorted(name for reply in replies for name in reply)
    queue = f"; {waiting} tasks waiting in the queue" if waiting is not None else ""
    if not names:
        return Check("workers", False, f"no Celery worker answers: results will not update{queue}")
    return Check("workers", True, f"{len(names)} worker(s) answer: {', '.join(names)}{queue}")


def _queued_tasks(app) -> int | None:
    """Messages waiting in the default queue and the analytics queue (Redis brokers keep
    each as a list)."""
    with app.connection_for_read() as conn:
        if conn.transport_cls not in ("redis", "rediss"):
            return None
        client = conn.default_channel.client
        queues = {app.conf.task_default_queue, settings.ANALYTICS_QUEUE}
        return sum(int(client.llen(queue)) for queue in queues)


def configuration_checks() -> list[Check]:
    """Plain-words checks a coordinator or operator can act on (`manage.py doctor`)."""
    checks = [check_database(), check_broker()]
    checks.append(
        Check(
            "secret key",
            settings.SECRET_KEY != settings.DEV_SECRET_KEY,
            "SECRET_KEY is set"
            if settings.SECRET_KEY != settings.DEV_SECRET_KEY
            else "SECRET_KEY is the development default: set a random one before real data",
        )
    )
    checks.append(
        Check(
            "pseudonym pepper",
            settings.PSEUDONYM_PEPPER != settings.DEV_PEPPER,
            "PSEUDONYM_PEPPER is set"
            if settings.PSEUDONYM_PEPPER != settings.DEV_PEPPER
            else "PSEUDONYM_PEPPER is the development default: source keys are guessable",
        )
    )
    media = Path(settings.MEDIA_ROOT)
    try:
        media.mkdir(parents=True, exist_ok=True)
        probe = media / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("media", True, f"images are stored under {media}"))
    except OSError as exc:
        checks.append(Check("media", False, f"cannot write images under {media}: {exc}"))
    viewer = Path(settings.BASE_DIR) / "static" / "reader" / "reader.js"
    checks.append(
        Check(
            "viewer",
            viewer.exists(),
            "the reading viewer is built"
            if viewer.exists()
            else "the reading viewer is not built: run `npm ci && npm run build`",
        )
    )
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks.append(
            Check(
                "migrations",
                not pending,
                "the database schema is up to date"
                if not pending
                else f"{len(pending)} migrations are not applied: run migrate",
            )
        )
    except Exception as exc:
        checks.append(Check("migrations", False, f"cannot read migrations: {exc}"))
    checks.append(
        Check(
            "debug",
            not (settings.DEBUG and not settings.EMBEDDED),
            "DEBUG is off"
            if not settings.DEBUG
            else "DEBUG is on (fine only for the embedded default on a laptop)",
        )
    )
    return checks
