from django.urls import path

from dashboards import beyond_views, patient_views, training_views, views

app_name = "analytics"

urlpatterns = [
    path("training/me/", training_views.my_training, name="my-training"),
    path("<slug:slug>/training/", training_views.cohort_training, name="cohort-training"),
    path("<slug:slug>/", views.cohort_dashboard, name="dashboard"),
    path("<slug:slug>/data.json", views.dashboard_data, name="dashboard-data"),
    path("<slug:slug>/beyond.json", beyond_views.beyond_data, name="dashboard-beyond"),
    path("<slug:slug>/status.json", views.dashboard_status, name="dashboard-status"),
    path("<slug:slug>/compute/", views.dashboard_compute, name="dashboard-compute"),
    path("<slug:slug>/csv/<slug:figure>.csv", views.dashboard_csv, name="dashboard-csv"),
    path(
        "<slug:slug>/patients/<str:pseudonym>/",
        patient_views.patient_profile,
        name="patient-profile",
    ),
]
