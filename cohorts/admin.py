"""Admin of the cohorts app (issue 22: the admin bypassed cohort membership and the services).

The clinical models (sites, cohorts and their members, patients, studies, instances) are for
superusers only: coordinators work on them through the clinical and import pages, which are
scoped to their cohorts and write through the audited services. What a coordinator still sees
here is read-only and scoped by `cohorts_for_user`: the audit trail and the DICOM import jobs
of their own cohorts. A series' sequence is corrected in `scoring.admin`, through its service.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    AuditEvent,
    ClinicalAssessment,
    Cohort,
    CohortMembership,
    DicomImportJob,
    ImagingStudy,
    Instance,
    Patient,
    Series,
    Site,
)
from .selectors import cohorts_for_user
from .services import patient_update


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Shown to superusers only, whatever model permissions a role's group holds."""

    def _superuser(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return self._superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # nothing is hard-deleted; erasure goes through its audited service


@admin.register(Site)
class SiteAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


class MembershipInline(admin.TabularInline):
    model = CohortMembership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Cohort)
class CohortAdmin(SuperuserOnlyAdmin):
    list_display = ("slug", "title", "is_synthetic", "created_at")
    search_fields = ("slug", "title")
    filter_horizontal = ("sites",)
    inlines = [MembershipInline]


class AssessmentInline(admin.TabularInline):
    model = ClinicalAssessment
    extra = 0
    fields = (
        "timepoint",
        "days_from_baseline",
        "disease_duration_months",
        "ck",
        "ck_uln",
        "mmt8_total",
        "treatment_naive",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(SuperuserOnlyAdmin):
    """Changes go through `patient_update` (audit row, results marked stale); patients are
    created by the clinical pages, the score-sheet import and the DICOM import."""

    list_display = ("pseudonym", "cohort", "site", "subtype", "sex", "age_at_mri", "is_synthetic")
    list_filter = ("cohort", "site", "subtype", "is_synthetic")
    search_fields = ("pseudonym",)
    readonly_fields = ("cohort", "pseudonym", "source_key", "is_synthetic", "created_at")
    inlines = [AssessmentInline]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Patient, form, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        patient_update(patient=obj, actor=request.user, **fields)


class SeriesInline(admin.TabularInline):
    model = Series
    extra = 0
    fields = (
        "series_number",
        "description",
        "sequence_detected",
        "sequence",
        "slice_count",
        "echo_time",
        "repetition_time",
        "inversion_time",
        "orientation",
    )
    readonly_fields = (
        "series_number",
        "description",
        "sequence_detected",
        "slice_count",
        "echo_time",
        "repetition_time",
        "inversion_time",
        "orientation",
    )
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImagingStudy)
class ImagingStudyAdmin(SuperuserOnlyAdmin):
    list_display = (
        "study_uid",
        "patient",
        "timepoint",
        "days_from_baseline",
        "field_strength",
        "body_coverage",
    )
    list_filter = ("patient__cohort", "body_coverage")
    search_fields = ("patient__pseudonym", "study_uid")
    readonly_fields = ("patient", "study_uid", "created_at")
    inlines = [SeriesInline]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # timepoints follow the study dates (cohorts.services.study_create)


@admin.register(Instance)
class InstanceAdmin(SuperuserOnlyAdmin):
    list_display = ("sop_instance_uid", "series", "instance_number", "slice_location")
    readonly_fields = [f.name for f in Instance._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by their services: shown, never added, changed or deleted here; a
    coordinator sees only those of the cohorts they are a member of."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(cohort__in=cohorts_for_user(user=request.user))

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(_ReadOnlyAdmin):
    """Readable by coordinators, never editable or deletable."""

    list_display = ("at", "actor", "action", "target_type", "target_id", "old", "new", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("target_id", "reason")


@admin.register(DicomImportJob)
class DicomImportJobAdmin(_ReadOnlyAdmin):
    """Web uploads and their per-file reports, read-only: jobs are written by the import."""

    list_display = ("id", "cohort", "created_by", "status", "imported", "rejected", "created_at")
    list_filter = ("status",)
