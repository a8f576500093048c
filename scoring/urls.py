from django.urls import path

from . import api, coordinator_views, study_views, views

app_name = "scoring"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    # The reader's URLs name a read by its random token and an image by its per-read token.
    path("reads/<slug:read_token>/", views.read_page, name="read"),
    path("reads/<slug:read_token>/images/<slug:image>.dcm", views.read_image, name="read-image"),
    path("api/reads/<slug:read_token>/", api.ReadStateApi.as_view(), name="api-read"),
    path("api/reads/<slug:read_token>/grades/", api.GradesSetApi.as_view(), name="api-grades"),
    path("api/reads/<slug:read_token>/submit/", api.ReadSubmitApi.as_view(), name="api-submit"),
    path("api/reads/<slug:read_token>/amend/", api.ReadAmendApi.as_view(), name="api-amend"),
    path("api/reads/<slug:read_token>/notes/", api.ReadNotesApi.as_view(), name="api-notes"),
    path("api/reads/<slug:read_token>/levels/", api.ReadLevelsApi.as_view(), name="api-levels"),
    path(
        "api/reads/<slug:read_token>/activity/",
        api.ReadActivityApi.as_view(),
        name="api-activity",
    ),
    path("cohorts/<slug:slug>/assign/", coordinator_views.assign_reads, name="assign"),
    path(
        "cohorts/<slug:slug>/studies/<int:study_id>/reading/",
        study_views.study_reading_setup,
        name="study-reading",
    ),
    path("cohorts/<slug:slug>/series-rules/", study_views.series_rules, name="series-rules"),
    path("cohorts/<slug:slug>/amendments/", coordinator_views.amendments, name="amendments"),
    path("cohorts/<slug:slug>/adjudication/", coordinator_views.adjudication, name="adjudication"),
    path("reads/<int:read_id>/audit/", coordinator_views.read_audit, name="read-audit"),
    path(
        "cohorts/<slug:slug>/patients/<str:pseudonym>/record.json",
        coordinator_views.patient_record_download,
        name="patient-record",
    ),
    path(
        "cohorts/<slug:slug>/patients/<str:pseudonym>/erase/",
        coordinator_views.patient_erase_page,
        name="patient-erase",
    ),
    path("api/preferences/", api.ReaderPreferenceApi.as_view(), name="api-prefs"),
]
