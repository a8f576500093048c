"""/api/v1/: read-only data and exports for statisticians (token or session)."""

from django.urls import path, re_path

from cohorts import api as cohorts_api
from exports import api as analytics_api
from scoring import api_v1 as scoring_api

from .base import ApiNotFound

app_name = "api-v1"

cohort = "cohorts/<slug:slug>/"

urlpatterns = [
    path("cohorts/", cohorts_api.CohortListApi.as_view(), name="cohort-list"),
    path(cohort, cohorts_api.CohortDetailApi.as_view(), name="cohort-detail"),
    path(f"{cohort}patients/", cohorts_api.PatientListApi.as_view(), name="patient-list"),
    path(
        f"{cohort}patients/<str:pseudonym>/",
        cohorts_api.PatientDetailApi.as_view(),
        name="patient-detail",
    ),
    path(f"{cohort}studies/", cohorts_api.StudyListApi.as_view(), name="study-list"),
    path(
        f"{cohort}studies/<str:study_uid>/",
        cohorts_api.StudyDetailApi.as_view(),
        name="study-detail",
    ),
    path(f"{cohort}series/", cohorts_api.SeriesListApi.as_view(), name="series-list"),
    path(f"{cohort}reads/", scoring_api.ReadListApi.as_view(), name="read-list"),
    path(f"{cohort}reads/<int:pk>/", scoring_api.ReadDetailApi.as_view(), name="read-detail"),
    path(f"{cohort}grades/", scoring_api.GradeListApi.as_view(), name="grade-list"),
    path(f"{cohort}export/grades/", analytics_api.GradesExportApi.as_view(), name="export-grades"),
    path(
        f"{cohort}export/read-scores/",
        analytics_api.ReadScoresExportApi.as_view(),
        name="export-read-scores",
    ),
    path(
        f"{cohort}export/muscle-scores/",
        analytics_api.MuscleScoresExportApi.as_view(),
        name="export-muscle-scores",
    ),
    path(
        f"{cohort}export/group-scores/",
        analytics_api.GroupScoresExportApi.as_view(),
        name="export-group-scores",
    ),
    path(
        f"{cohort}export/patients/",
        analytics_api.PatientsExportApi.as_view(),
        name="export-patients",
    ),
    path(
        f"{cohort}export/codebook/",
        analytics_api.CodebookExportApi.as_view(),
        name="export-codebook",
    ),
    path(f"{cohort}analytics/", analytics_api.CohortAnalyticsApi.as_view(), name="analytics"),
    path("atlas/regions/", scoring_api.RegionListApi.as_view(), name="region-list"),
    path("atlas/groups/", scoring_api.FunctionalGroupListApi.as_view(), name="group-list"),
    path("atlas/muscles/", scoring_api.MuscleListApi.as_view(), name="muscle-list"),
    path("protocols/", scoring_api.ProtocolListApi.as_view(), name="protocol-list"),
    path("protocols/<slug:slug>/", scoring_api.ProtocolDetailApi.as_view(), name="protocol-detail"),
    # Anything else under /api/v1/ (a malformed slug or id included) is a JSON 404; a path
    # without its final slash still gets Django's redirect to the one with it.
    re_path(r"^[\s\S]*/$", ApiNotFound.as_view(), name="not-found"),
]
