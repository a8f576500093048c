from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs) -> None:
    from .roles import ensure_roles

    ensure_roles()


class CohortsConfig(AppConfig):
    name = "cohorts"
    verbose_name = "Cohorts, patients and imaging"

    def ready(self) -> None:
        # Permissions exist only after post_migrate, so the role groups are filled in then.
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="iim_ensure_roles")
