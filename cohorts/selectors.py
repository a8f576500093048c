"""Who sees which cohort and patient. Views and API classes never filter by hand."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet
from django.http import Http404

from .models import AuditEvent, Cohort, Patient
from .roles import CLINICIAN, COORDINATOR, STATISTICIAN, has_role

CLINICAL_ROLES = (CLINICIAN, COORDINATOR, STATISTICIAN)


def cohorts_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Cohort]:
    """Cohorts whose clinical and aggregate data the user may see.

    Radiologists get none: they reach cases only through their own reads.
    """
    if not user.is_authenticated or not has_role(user, *CLINICAL_ROLES):
        return Cohort.objects.none()
    if user.is_superuser:
        return Cohort.objects.all()
    return Cohort.objects.filter(memberships__user=user).distinct()


def cohort_get_for_user(*, slug: str, user: AbstractBaseUser | AnonymousUser) -> Cohort:
    """One cohort, or 404 for anyone who may not see it (no hint that it exists)."""
    try:
        return cohorts_for_user(user=user).get(slug=slug)
    except Cohort.DoesNotExist as exc:
        raise Http404("No such cohort.") from exc


def patients_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort | None = None
) -> QuerySet[Patient]:
    qs = Patient.objects.filter(cohort__in=cohorts_for_user(user=user))
    if cohort is not None:
        qs = qs.filter(cohort=cohort)
    return qs.select_related("site", "cohort").annotate(
        n_studies=Count("studies", distinct=True), n_reads=Count("studies__reads", distinct=True)
    )


def patient_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort, pseudonym: str
) -> Patient:
    try:
        return patients_for_user(user=user, cohort=cohort).get(pseudonym=pseudonym)
    except Patient.DoesNotExist as exc:
        raise Http404("No such patient.") from exc


def audit_events_for_target(*, target_type: str, target_ids: list[str]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        target_type=target_type, target_id__in=target_ids
    ).select_related("actor")
