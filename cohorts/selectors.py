"""Who sees which cohort and patient. Views and API classes never filter by hand."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet
from django.http import Http404

from .models import AuditEvent, Cohort, DicomImportJob, ImagingStudy, Instance, Patient, Series
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


# --- Imaging outside a read: DICOM import jobs and series previews ----------------------------
# Radiologists reach images only through their own reads (scoring's selectors); here the
# cohort's clinicians and coordinators preview series, and coordinators import.

IMAGE_VIEW_ROLES = (CLINICIAN, COORDINATOR)


def series_for_user(*, user: AbstractBaseUser | AnonymousUser, cohort: Cohort) -> QuerySet[Series]:
    """Series of `cohort` whose images the user may preview (none for other roles)."""
    if not has_role(user, *IMAGE_VIEW_ROLES):
        return Series.objects.none()
    return Series.objects.filter(
        study__patient__cohort=cohort, study__patient__cohort__in=cohorts_for_user(user=user)
    ).select_related("study__patient")


def series_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort, series_id: int
) -> Series:
    try:
        return series_for_user(user=user, cohort=cohort).get(pk=series_id)
    except Series.DoesNotExist as exc:
        raise Http404("No such series.") from exc


def study_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort, study_id: int
) -> ImagingStudy:
    """One study of `cohort` for its clinicians and coordinators (404 for anyone else)."""
    studies = ImagingStudy.objects.none()
    if has_role(user, *IMAGE_VIEW_ROLES):
        studies = ImagingStudy.objects.filter(
            patient__cohort=cohort, patient__cohort__in=cohorts_for_user(user=user)
        )
    try:
        return studies.select_related("patient").get(pk=study_id)
    except ImagingStudy.DoesNotExist as exc:
        raise Http404("No such study.") from exc


def studies_with_series_counts(*, cohort: Cohort) -> QuerySet[ImagingStudy]:
    """A cohort's studies, newest first, with their series and instance counts."""
    return (
        ImagingStudy.objects.filter(patient__cohort=cohort)
        .select_related("patient")
        .annotate(n_series=Count("series", distinct=True), n_instances=Count("series__instances"))
        .order_by("-created_at", "-pk")
    )


def series_instance_at(*, series: Series, index: int) -> Instance:
    """The `index`-th slice of a series in stack order (404 past the end)."""
    ordered = series.instances.order_by("position_along_normal", "instance_number", "pk")
    found = list(ordered[index : index + 1]) if index >= 0 else []
    if not found:
        raise Http404("No such slice.")
    return found[0]


def import_jobs_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort
) -> QuerySet[DicomImportJob]:
    """The cohort's DICOM import jobs, for its coordinators only."""
    if not has_role(user, COORDINATOR):
        return DicomImportJob.objects.none()
    return DicomImportJob.objects.filter(
        cohort=cohort, cohort__in=cohorts_for_user(user=user)
    ).select_related("created_by")


def import_job_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, cohort: Cohort, job_id: int
) -> DicomImportJob:
    try:
        return import_jobs_for_user(user=user, cohort=cohort).get(pk=job_id)
    except DicomImportJob.DoesNotExist as exc:
        raise Http404("No such import.") from exc
