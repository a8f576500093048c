"""Roles are Django groups; this module names them and says which model permissions each holds.

Model permissions gate the admin and coarse access; which objects a user may see is decided by
selectors (cohort membership, own reads).
"""

from __future__ import annotations

from typing import Final

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

RADIOLOGIST: Final = "radiologist"
CLINICIAN: Final = "clinician"
STATISTICIAN: Final = "statistician"
COORDINATOR: Final = "coordinator"
ROLES: Final = (RADIOLOGIST, CLINICIAN, STATISTICIAN, COORDINATOR)

_VIEW_ALL = [
    "cohorts.view_site",
    "cohorts.view_cohort",
    "cohorts.view_patient",
    "cohorts.view_clinicalassessment",
    "cohorts.view_imagingstudy",
    "cohorts.view_series",
    "scoring.view_region",
    "scoring.view_functionalgroup",
    "scoring.view_muscle",
    "scoring.view_scoringprotocol",
]

ROLE_PERMISSIONS: Final[dict[str, list[str]]] = {
    # A reader works on grades of own reads; everything else about a case stays hidden.
    RADIOLOGIST: [
        "scoring.view_read",
        "scoring.view_grade",
        "scoring.add_grade",
        "scoring.change_grade",
        "scoring.view_muscle",
        "scoring.view_scoringprotocol",
    ],
    CLINICIAN: [
        *_VIEW_ALL,
        "cohorts.add_patient",
        "cohorts.change_patient",
        "cohorts.add_clinicalassessment",
        "cohorts.change_clinicalassessment",
    ],
    STATISTICIAN: [*_VIEW_ALL, "scoring.view_read", "scoring.view_grade"],
    COORDINATOR: [
        *_VIEW_ALL,
        "cohorts.add_site",
        "cohorts.change_site",
        "cohorts.add_cohort",
        "cohorts.change_cohort",
        "cohorts.add_cohortmembership",
        "cohorts.change_cohortmembership",
        "cohorts.view_cohortmembership",
        "cohorts.delete_cohortmembership",
        "cohorts.add_patient",
        "cohorts.change_patient",
        "cohorts.change_imagingstudy",
        "cohorts.change_series",
        "cohorts.view_instance",
        "cohorts.view_auditevent",
        "scoring.add_region",
        "scoring.change_region",
        "scoring.add_functionalgroup",
        "scoring.change_functionalgroup",
        "scoring.add_muscle",
        "scoring.change_muscle",
        "scoring.add_scoringprotocol",
        "scoring.change_scoringprotocol",
        "scoring.view_cohortprotocol",
        "scoring.add_cohortprotocol",
        "scoring.change_cohortprotocol",
        "scoring.view_read",
        "scoring.add_read",
        "scoring.view_grade",
    ],
}


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The role names a user holds (a superuser holds every role)."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return frozenset(ROLES)
    cached = getattr(user, "_iim_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._iim_roles = cached
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def ensure_roles() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # post_migrate runs app by app; make sure every app's permissions exist before assigning.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
