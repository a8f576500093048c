"""Shared fixtures: role personas, eager Celery for in-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import CHROMIUM, need_chromium


def _factories():  # imported late so the pure tests run without Django settings
    from tests import factories

    return factories


def _django_active(request) -> bool:
    # The pure tests (stats, dicom) also run with `-p no:django`, without settings.
    return request.config.pluginmanager.hasplugin("django")


@pytest.fixture(autouse=True)
def _eager_celery(request):
    # In-process tests run tasks eagerly even when CI exports a broker URL; the real-worker
    # tests start their own worker against Redis.
    if not _django_active(request):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Every seeded demo computes the beyond-the-paper analyses; the classifier's permutation
    # test is checked on its own (tests/stats/test_patterns.py), not 99 times per seed.
    settings.ANALYTICS_CLASSIFIER_PERMUTATIONS = 9
    from iim_scoring.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture(autouse=True)
def _private_media(request, tmp_path):
    if _django_active(request):
        request.getfixturevalue("settings").MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cohort(db):
    return _factories().CohortFactory()


@pytest.fixture
def radiologist(db):
    return _factories().user_with_role("radiologist", username="radiologist")


@pytest.fixture
def other_radiologist(db):
    return _factories().user_with_role("radiologist", username="other_radiologist")


@pytest.fixture
def clinician(db, cohort):
    return _factories().user_with_role("clinician", username="clinician", cohort=cohort)


@pytest.fixture
def statistician(db, cohort):
    return _factories().user_with_role("statistician", username="statistician", cohort=cohort)


@pytest.fixture
def coordinator(db, cohort):
    return _factories().user_with_role(
        "coordinator", username="coordinator", cohort=cohort, staff=True
    )


@pytest.fixture(autouse=True)
def _atlas_after_flush(request):
    """Transactional tests (live server, real workers) flush the database, and with it the
    atlas and protocols the data migration shipped: put them back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from django.apps import apps

    from scoring.models import Muscle

    if not Muscle.objects.exists():
        atlas = importlib.import_module("scoring.migrations.0002_default_atlas")
        atlas.load_atlas(apps, None)
        importlib.import_module("scoring.migrations.0005_grading_scales").add_fat_oedema_protocol(
            apps, None
        )


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


# One Chromium per session for every browser test, wherever it lives: Playwright's sync API
# keeps an event loop running while it is open, so a second one started beside it would fail.
@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
