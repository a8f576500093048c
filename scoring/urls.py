from django.urls import path

from . import api, coordinator_views, views

app_name = "scoring"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("reads/<int:read_id>/", views.read_page, name="read"),
    path("reads/<int:read_id>/images/<int:instance_id>.dcm", views.read_image, name="read-image"),
    path("api/reads/<int:read_id>/", api.ReadStateApi.as_view(), name="api-read"),
    path("api/reads/<int:read_id>/grades/", api.GradesSetApi.as_view(), name="api-grades"),
    path("api/reads/<int:read_id>/submit/", api.ReadSubmitApi.as_view(), name="api-submit"),
    path("api/reads/<int:read_id>/amend/", api.ReadAmendApi.as_view(), name="api-amend"),
    path("api/reads/<int:read_id>/notes/", api.ReadNotesApi.as_view(), name="api-notes"),
    path("api/reads/<int:read_id>/activity/", api.ReadActivityApi.as_view(), name="api-activity"),
    path("cohorts/<slug:slug>/assign/", coordinator_views.assign_reads, name="assign"),
    path("cohorts/<slug:slug>/amendments/", coordinator_views.amendments, name="amendments"),
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
