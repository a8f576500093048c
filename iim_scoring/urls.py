from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("data-protection/", views.data_protection, name="data-protection"),
    path("operations/", views.operations, name="operations"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("cohorts/", include("cohorts.urls")),
    path("reading/", include("scoring.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("api/", include("iim_scoring.api.urls")),
    path("imports/", include("sheets.urls")),
]
