"""Celery application: eager in the embedded default, Redis-backed when CELERY_BROKER_URL is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iim_scoring.settings")

app = Celery("iim_scoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="iim_scoring.ping")
def ping(value: str = "pong") -> str:
    """A task with no side effect: proves a worker receives and answers."""
    return value
