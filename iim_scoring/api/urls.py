"""REST API for statisticians and integrations: /api/v1/, schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from .docs import RedocDocsView, SwaggerDocsView
from .tokens import api_token_page

urlpatterns = [
    path("v1/", include("iim_scoring.api.v1_urls")),
    path("token/", api_token_page, name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
]
