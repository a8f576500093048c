"""Admin for coordinators: the muscle atlas and protocols are data, edited here."""

from django.contrib import admin

from .models import CohortProtocol, FunctionalGroup, Muscle, Read, Region, ScoringProtocol


class GroupInline(admin.TabularInline):
    model = FunctionalGroup
    extra = 0


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "limb", "order")
    inlines = [GroupInline]


class MuscleInline(admin.TabularInline):
    model = Muscle
    extra = 0


@admin.register(FunctionalGroup)
class FunctionalGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "region", "order")
    list_filter = ("region",)
    inlines = [MuscleInline]


@admin.register(Muscle)
class MuscleAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "group", "paired", "order")
    list_filter = ("group__region", "group")
    search_fields = ("name", "slug")


@admin.register(ScoringProtocol)
class ScoringProtocolAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "slug", "sequence_combine", "side_combine", "is_active")
    filter_horizontal = ("muscles",)


@admin.register(CohortProtocol)
class CohortProtocolAdmin(admin.ModelAdmin):
    list_display = ("cohort", "protocol")


@admin.register(Read)
class ReadAdmin(admin.ModelAdmin):
    """Reads are assigned and changed by services; the admin shows them."""

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

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
