from django.urls import path

from . import views

app_name = "scoring"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("reads/<int:read_id>/", views.read_page, name="read"),
]
