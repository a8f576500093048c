"""Admin for coordinators: sites, cohorts and membership, patients, imaging, the audit trail.

Patients and imaging are created by services (clinical forms, DICOM import); the admin lets a
coordinator correct what the services allow correcting (a series' sequence) and read the rest.
"""

from django.contrib import admin

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


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


class MembershipInline(admin.TabularInline):
    model = CohortMembership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
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
class PatientAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "cohort", "site", "subtype", "sex", "age_at_mri", "is_synthetic")
    list_filter = ("cohort", "site", "subtype", "is_synthetic")
    search_fields = ("pseudonym",)
    readonly_fields = ("source_key", "created_at")
    inlines = [AssessmentInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # nothing is hard-deleted; erasure goes through its audited service


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
class ImagingStudyAdmin(admin.ModelAdmin):
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

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    """The coordinator corrects a series' sequence when the tags misled the classifier."""

    list_display = (
        "series_uid",
        "study",
        "description",
        "sequence_detected",
        "sequence",
        "slice_count",
    )
    list_filter = ("sequence", "sequence_detected")
    fields = (
        "study",
        "series_uid",
        "description",
        "sequence_detected",
        "sequence",
        "echo_time",
        "repetition_time",
        "inversion_time",
        "slice_count",
        "orientation",
        "pixel_spacing",
    )
    readonly_fields = tuple(f for f in fields if f != "sequence")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("sop_instance_uid", "series", "instance_number", "slice_location")
    readonly_fields = [f.name for f in Instance._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by their services: shown, never added, changed or deleted here."""

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
    list_filter = ("action", "target_type", "cohort")
    search_fields = ("target_id", "reason")


@admin.register(DicomImportJob)
class DicomImportJobAdmin(_ReadOnlyAdmin):
    """Web uploads and their per-file reports, read-only: jobs are written by the import."""

    list_display = ("id", "cohort", "created_by", "status", "imported", "rejected", "created_at")
    list_filter = ("status", "cohort")
