"""Shared fixtures: role personas, eager Celery for in-process tests."""

from __future__ import annotations

import pytest


def _factories():  # noqa: ANN202 - imported late so the pure tests run without Django settings
    from tests import factories

    return factories


@pytest.fixture(autouse=True)
def _eager_celery(settings):  # noqa: ANN001
    # In-process tests run tasks eagerly even when CI exports a broker URL; the real-worker
    # tests start their own worker against Redis.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from iim_scoring.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):  # noqa: ANN001
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cohort(db):  # noqa: ANN001
    return _factories().CohortFactory()


@pytest.fixture
def radiologist(db):  # noqa: ANN001
    return _factories().user_with_role("radiologist", username="radiologist")


@pytest.fixture
def other_radiologist(db):  # noqa: ANN001
    return _factories().user_with_role("radiologist", username="other_radiologist")


@pytest.fixture
def clinician(db, cohort):  # noqa: ANN001
    return _factories().user_with_role("clinician", username="clinician", cohort=cohort)


@pytest.fixture
def statistician(db, cohort):  # noqa: ANN001
    return _factories().user_with_role("statistician", username="statistician", cohort=cohort)


@pytest.fixture
def coordinator(db, cohort):  # noqa: ANN001
    return _factories().user_with_role(
        "coordinator", username="coordinator", cohort=cohort, staff=True
    )
