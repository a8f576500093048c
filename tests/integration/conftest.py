"""Real processes for integration tests: a Celery worker against Redis, on the suite's database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.services import database_url, need_redis

REPO = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(self, process: subprocess.Popen, broker: str, queue: str, log: Path) -> None:
        self.process, self.broker, self.queue, self.log = process, broker, queue, log

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_worker(
    tmp_path: Path, broker: str, queue: str, media_root: Path, **extra_env: str
) -> Worker:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_QUEUE": queue,
        "MEDIA_ROOT": str(media_root),
        **extra_env,
    }
    log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "iim_scoring",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-Q",
        queue,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text()[-2000:]}")
        if "ready." in log.read_text():
            return Worker(process, broker, queue, log)
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"worker did not become ready: {log.read_text()[-2000:]}")


@pytest.fixture
def broker_queue(settings) -> Iterator[tuple[str, str]]:
    """The app under test sends tasks to Redis on a private queue instead of running them."""
    from iim_scoring.celery import app

    broker = need_redis()
    # The default queue, emptied first: Celery routes by a default queue it caches once, so a
    # per-test queue name would not reach the worker. The test Redis database is private.
    queue = "celery"
    keys = (
        "broker_url",
        "result_backend",
        "task_always_eager",
        "task_default_queue",
        "broker_connection_retry",
        "broker_connection_max_retries",
    )
    previous = {k: app.conf[k] for k in keys}
    app.conf.update(
        broker_url=broker, result_backend=broker, task_always_eager=False, task_default_queue=queue
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.ANALYTICS_DEBOUNCE_SECONDS = 0.5
    # Earlier tests may have pooled a connection to the default in-memory broker.
    reset_broker_connections(app)
    # Nothing left from an earlier test (queued, or unacknowledged by a killed worker).
    redis.Redis.from_url(broker).flushdb()
    try:
        yield broker, queue
    finally:
        app.conf.update(previous)
        reset_broker_connections(app)


def reset_broker_connections(app) -> None:
    """Drop pooled broker connections so the next send uses the current broker_url (what
    Celery itself does after a fork)."""
    from kombu import pools

    pools.reset()
    app._after_fork()
    # The result backend is cached too (per thread, or once when thread-safe).
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_worker_process(tmp_path, settings, broker_queue) -> Iterator[Worker]:
    """A real worker on the private queue."""
    broker, queue = broker_queue
    worker = start_worker(tmp_path, broker, queue, Path(settings.MEDIA_ROOT))
    try:
        yield worker
    finally:
        worker.kill()


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
