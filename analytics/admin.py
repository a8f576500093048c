from django.contrib import admin

from .models import AnalysisResult, CohortAnalyticsState


@admin.register(AnalysisResult)
class AnalysisResultAdmin(admin.ModelAdmin):
    list_display = ("cohort", "analysis", "status", "computed_at", "input_fingerprint")
    list_filter = ("analysis", "status", "cohort")
    readonly_fields = [f.name for f in AnalysisResult._meta.fields]


@admin.register(CohortAnalyticsState)
class CohortAnalyticsStateAdmin(admin.ModelAdmin):
    list_display = ("cohort", "stale", "stale_since", "recomputing", "last_completed_at")
    readonly_fields = [f.name for f in CohortAnalyticsState._meta.fields]
