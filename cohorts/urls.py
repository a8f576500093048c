from django.urls import path

from . import clinical_views, views

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
]
