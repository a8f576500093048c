from django.apps import AppConfig
from django.conf import settings


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics: scores and cohort analyses"

    def ready(self) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Eager tasks run inside requests: import pandas/scipy/statsmodels at start-up rather
            # than on a reader's first saved grade (about 1.5 s).
            from . import stats  # noqa: F401
