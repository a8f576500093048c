from django.urls import path

from cohorts import clinical_views, views
from cohorts.imaging import pacs_views
from cohorts.imaging import views as dicom_views

app_name = "cohorts"

urlpatterns = [
    path("", views.cohort_list, name="cohort-list"),
    path("<slug:slug>/", views.cohort_detail, name="cohort-detail"),
    path("<slug:slug>/patients/", clinical_views.patient_list, name="patient-list"),
    path("<slug:slug>/patients/new/", clinical_views.patient_create, name="patient-create"),
    path(
        "<slug:slug>/patients/<str:pseudonym>/",
        clinical_views.patient_detail,
        name="patient-detail",
    ),
    path(
        "<slug:slug>/patients/<str:pseudonym>/edit/",
        clinical_views.patient_edit,
        name="patient-edit",
    ),
    path(
        "<slug:slug>/patients/<str:pseudonym>/timepoints/<int:timepoint>/",
        clinical_views.assessment_edit,
        name="assessment-edit",
    ),
    # DICOM import and series preview (cohorts/dicom_views.py)
    path("<slug:slug>/dicom/import/", dicom_views.dicom_import_page, name="dicom-import"),
    path(
        "<slug:slug>/dicom/import/<int:job_id>/",
        dicom_views.dicom_import_job_page,
        name="dicom-import-job",
    ),
    path(
        "<slug:slug>/dicom/import/<int:job_id>/status/",
        dicom_views.dicom_import_job_status,
        name="dicom-import-job-status",
    ),
    # DICOM network: senders, PACS peers, query/retrieve (cohorts/imaging/pacs_views.py)
    path("<slug:slug>/dicom/network/", pacs_views.dicom_network_page, name="dicom-network"),
    path(
        "<slug:slug>/dicom/pacs/<int:peer_id>/echo/",
        pacs_views.pacs_echo_view,
        name="pacs-echo",
    ),
    path(
        "<slug:slug>/dicom/pacs/<int:peer_id>/search/",
        pacs_views.pacs_search_page,
        name="pacs-search",
    ),
    path(
        "<slug:slug>/dicom/pacs/<int:peer_id>/retrieve/",
        pacs_views.pacs_retrieve_view,
        name="pacs-retrieve",
    ),
    path(
        "<slug:slug>/studies/<int:study_id>/series/",
        dicom_views.study_series_page,
        name="study-series",
    ),
    path(
        "<slug:slug>/series/<int:series_id>/slices/<int:index>.png",
        dicom_views.series_slice_png,
        name="series-slice-png",
    ),
]
