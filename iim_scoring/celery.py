"""Celery application: eager in the embedded default, Redis-backed when CELERY_BROKER_URL is set."""

import os

from celery import Celery
from django.db import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iim_scoring.settings")

# Work that must not be lost: acknowledged only once done, given back to the queue when its
# worker dies, retried with backoff while the database is unreachable.
DURABLE_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}

app = Celery("iim_scoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="iim_scoring.ping")
def ping(value: str = "pong") -> str:
    """A task with no side effect: proves a worker receives and answers."""
    return value
