"""Admin of the scoring app: the muscle atlas and the protocols are shared vocabulary, edited
here by coordinators; every save is audited and marks stale the results of the cohorts it can
change (`scoring.services.vocabulary`). A series' sequence role is corrected here too, by
coordinators of the series' cohort only, through `series_sequence_set`. Reads and cohorts'
protocols are for superusers (issue 22: the admin bypassed membership and the services)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from cohorts.admin import SuperuserOnlyAdmin
from cohorts.models import Series
from cohorts.selectors import cohorts_for_user

from .models import CohortProtocol, FunctionalGroup, Muscle, Read, Region, ScoringProtocol
from .selectors import protocol_has_grades
from .services.imaging import study_has_submitted_reads
from .services.vocabulary import (
    series_sequence_set,
    vocabulary_record_change,
    vocabulary_snapshot,
)


class VocabularyAdmin(admin.ModelAdmin):
    """Saves (the row, its many-to-many fields and inlines) end with an audit row and stale
    results, in the admin's transaction."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # rows of the atlas are referenced by grades; retire a protocol instead

    def save_model(self, request: HttpRequest, obj: Model, form, change: bool) -> None:
        # The row as stored, before this save (the form has already set the new values on obj).
        stored = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._vocabulary_old = vocabulary_snapshot(stored) if stored else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        vocabulary_record_change(
            obj=form.instance,
            actor=request.user,
            old=getattr(request, "_vocabulary_old", {}),
            created=not change,
        )
        for formset in formsets:
            for row in formset.new_objects:
                vocabulary_record_change(obj=row, actor=request.user, old={}, created=True)
            for row, _fields in formset.changed_objects:
                vocabulary_record_change(obj=row, actor=request.user, old={}, created=False)


class GroupInline(admin.TabularInline):
    model = FunctionalGroup
    extra = 0
    can_delete = False


@admin.register(Region)
class RegionAdmin(VocabularyAdmin):
    list_display = ("name", "slug", "limb", "order")
    inlines = [GroupInline]


class MuscleInline(admin.TabularInline):
    model = Muscle
    extra = 0
    can_delete = False


@admin.register(FunctionalGroup)
class FunctionalGroupAdmin(VocabularyAdmin):
    list_display = ("name", "slug", "region", "order")
    list_filter = ("region",)
    inlines = [MuscleInline]


@admin.register(Muscle)
class MuscleAdmin(VocabularyAdmin):
    list_display = ("name", "slug", "group", "paired", "order")
    list_filter = ("group__region", "group")
    search_fields = ("name", "slug")


@admin.register(ScoringProtocol)
class ScoringProtocolAdmin(VocabularyAdmin):
    list_display = (
        "name",
        "version",
        "slug",
        "stir_scale",
        "t1_scale",
        "sequence_combine",
        "side_combine",
        "is_active",
    )
    filter_horizontal = ("muscles",)

    def get_readonly_fields(self, request: HttpRequest, obj: ScoringProtocol | None = None):
        # Stored grades are numbers on these scales: another scale would change their meaning
        # (a new protocol version takes the new scale).
        if obj is not None and protocol_has_grades(obj):
            return ("stir_scale", "t1_scale")
        return ()


@admin.register(CohortProtocol)
class CohortProtocolAdmin(SuperuserOnlyAdmin):
    list_display = ("cohort", "protocol")


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    """The coordinator corrects a series' sequence when the tags misled the classifier; only
    series of their own cohorts are listed."""

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

    def get_readonly_fields(self, request: HttpRequest, obj: Series | None = None) -> tuple:
        # Grades given on a submitted read refer to the series as they are.
        if obj is not None and study_has_submitted_reads(obj.study_id):
            return self.fields
        return self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Series]:
        rows = super().get_queryset(request).select_related("study__patient")
        if request.user.is_superuser:
            return rows
        return rows.filter(study__patient__cohort__in=cohorts_for_user(user=request.user))

    def save_model(self, request: HttpRequest, obj: Series, form, change: bool) -> None:
        series_sequence_set(series=obj, sequence=obj.sequence, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Read)
class ReadAdmin(SuperuserOnlyAdmin):
    """Reads are assigned and changed by services; the admin shows them to superusers."""

    list_display = (
        "blind_label",
        "study",
        "reader",
        "kind",
        "status",
        "version",
        "active_seconds",
        "submitted_at",
    )
    list_filter = ("status", "kind", "protocol", "study__patient__cohort")
    search_fields = ("blind_label",)
    readonly_fields = [f.name for f in Read._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
