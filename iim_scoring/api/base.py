"""Base classes of the read-only API: authentication and role first, then the cohort through
its selector (404 for a cohort the user is not a member of), pagination and filters."""

from __future__ import annotations

from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from cohorts.models import Cohort
from cohorts.selectors import cohort_get_for_user

from .pagination import ApiPagination
from .permissions import HoldsAnyRole, HoldsCohortDataRole
from .schema import ApiSchema


class CohortScopedMixin:
    """Views under /cohorts/{slug}/: the cohort comes from `cohort_get_for_user`."""

    permission_classes = [IsAuthenticated, HoldsCohortDataRole]
    schema = ApiSchema()
    pagination_class = ApiPagination
    filter_backends = [DjangoFilterBackend]

    def get_cohort(self) -> Cohort:
        if not hasattr(self, "_cohort"):
            self._cohort = cohort_get_for_user(slug=self.kwargs["slug"], user=self.request.user)
        return self._cohort

    def is_schema_generation(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    model: type[Model]

    def get_queryset(self) -> QuerySet:
        if self.is_schema_generation():
            return self.model.objects.none()
        return self.get_cohort_queryset(self.get_cohort())

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet:
        raise NotImplementedError


class CohortScopedListApi(CohortScopedMixin, generics.ListAPIView):
    pass


class CohortScopedDetailApi(CohortScopedMixin, generics.RetrieveAPIView):
    filter_backends: list = []


class SharedVocabularyMixin:
    """The atlas and the protocols: every role reads them."""

    permission_classes = [IsAuthenticated, HoldsAnyRole]
    schema = ApiSchema()
    pagination_class = ApiPagination
    filter_backends = [DjangoFilterBackend]


class ApiNotFound(APIView):
    """Every other path under the API: a JSON 404, never the site's HTML page."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: object, **kwargs: object) -> None:
        raise exceptions.NotFound()

    post = put = patch = delete = head = options = get
