"""Read-only API of reads and grades (cohort members, never radiologists) and of the muscle atlas
and scoring protocols (every role). The reading page's own endpoints live in `scoring.api`."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from cohorts.models import Cohort
from iim_scoring.api.base import (
    CohortScopedDetailApi,
    CohortScopedListApi,
    SharedVocabularyMixin,
)
from iim_scoring.api.filters import BoundedIntegerFilter, StrictBooleanFilter

from .models import (
    FunctionalGroup,
    Grade,
    GradeSequence,
    GradeValue,
    Muscle,
    Read,
    Region,
    ScoringProtocol,
    Side,
)

# --- selectors scoped to a cohort the user may see ---------------------------------------------


def reads_of_cohort(*, cohort: Cohort) -> QuerySet[Read]:
    """Every read of the cohort's studies (the cohort was checked by `cohort_get_for_user`)."""
    return (
        Read.objects.filter(study__patient__cohort=cohort)
        .select_related("study__patient", "reader", "protocol")
        .annotate(n_grades=Count("grades"))
        .order_by("study__patient__pseudonym", "study__timepoint", "reader__username", "pk")
    )


def grades_of_cohort(*, cohort: Cohort) -> QuerySet[Grade]:
    return (
        Grade.objects.filter(read__study__patient__cohort=cohort)
        .select_related("read__study__patient", "read__reader", "muscle__group__region")
        .order_by(
            "read_id",
            "muscle__group__region__order",
            "muscle__group__order",
            "muscle__order",
            "side",
            "sequence",
        )
    )


# --- serializers --------------------------------------------------------------------------------


class GradeCellSerializer(serializers.ModelSerializer):
    muscle = serializers.CharField(source="muscle.slug")

    class Meta:
        model = Grade
        fields = ["muscle", "side", "sequence", "value", "updated_at"]


class ReadSerializer(serializers.ModelSerializer):
    pseudonym = serializers.CharField(source="study.patient.pseudonym")
    study = serializers.CharField(source="study.study_uid")
    timepoint = serializers.IntegerField(source="study.timepoint")
    reader = serializers.CharField(source="reader.get_username")
    protocol = serializers.CharField(source="protocol.slug")
    n_grades = serializers.IntegerField(read_only=True)

    class Meta:
        model = Read
        fields = [
            "id",
            "blind_label",
            "pseudonym",
            "study",
            "timepoint",
            "reader",
            "protocol",
            "kind",
            "status",
            "n_grades",
            "active_seconds",
            "assigned_at",
            "submitted_at",
        ]


class ReadDetailSerializer(ReadSerializer):
    grades = GradeCellSerializer(many=True, read_only=True)

    class Meta(ReadSerializer.Meta):
        fields = [*ReadSerializer.Meta.fields, "note", "findings", "grades"]


class GradeSerializer(serializers.ModelSerializer):
    read = serializers.IntegerField(source="read_id")
    pseudonym = serializers.CharField(source="read.study.patient.pseudonym")
    timepoint = serializers.IntegerField(source="read.study.timepoint")
    reader = serializers.CharField(source="read.reader.get_username")
    read_status = serializers.CharField(source="read.status")
    region = serializers.CharField(source="muscle.group.region.slug")
    group = serializers.CharField(source="muscle.group.slug")
    muscle = serializers.CharField(source="muscle.slug")

    class Meta:
        model = Grade
        fields = [
            "read",
            "pseudonym",
            "timepoint",
            "reader",
            "read_status",
            "region",
            "group",
            "muscle",
            "side",
            "sequence",
            "value",
            "updated_at",
        ]


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["slug", "name", "limb", "order"]


class FunctionalGroupSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.slug")

    class Meta:
        model = FunctionalGroup
        fields = ["slug", "name", "region", "order"]


class MuscleSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.slug")
    region = serializers.CharField(source="group.region.slug")

    class Meta:
        model = Muscle
        fields = ["slug", "name", "group", "region", "paired", "order"]


class ProtocolSerializer(serializers.ModelSerializer):
    muscles = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    scales = serializers.SerializerMethodField(
        help_text="Per graded sequence, its scale: key, name, max and each grade's label and "
        "definition."
    )

    def get_scales(self, protocol: ScoringProtocol) -> dict[str, Any]:
        return {seq: protocol.scale_of(seq).as_json() for seq in protocol.sequences}

    class Meta:
        model = ScoringProtocol
        fields = [
            "slug",
            "name",
            "version",
            "description",
            "sequences",
            "sequence_combine",
            "side_combine",
            "stir_scale",
            "t1_scale",
            "scales",
            "region_findings",
            "is_active",
            "muscles",
        ]


# --- filters ------------------------------------------------------------------------------------


class ReadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Read.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Read.Kind.choices)
    reader = django_filters.CharFilter(field_name="reader__username")
    pseudonym = django_filters.CharFilter(field_name="study__patient__pseudonym")
    timepoint = BoundedIntegerFilter(field_name="study__timepoint", high=32767)
    protocol = django_filters.CharFilter(field_name="protocol__slug")

    class Meta:
        model = Read
        fields = ["status", "kind", "reader", "pseudonym", "timepoint", "protocol"]


class GradeFilter(django_filters.FilterSet):
    read = BoundedIntegerFilter(field_name="read_id")
    read_status = django_filters.ChoiceFilter(
        field_name="read__status", choices=Read.Status.choices
    )
    reader = django_filters.CharFilter(field_name="read__reader__username")
    pseudonym = django_filters.CharFilter(field_name="read__study__patient__pseudonym")
    region = django_filters.CharFilter(field_name="muscle__group__region__slug")
    group = django_filters.CharFilter(field_name="muscle__group__slug")
    muscle = django_filters.CharFilter(field_name="muscle__slug")
    side = django_filters.ChoiceFilter(choices=Side.choices)
    sequence = django_filters.ChoiceFilter(choices=GradeSequence.choices)
    value = django_filters.ChoiceFilter(choices=GradeValue.choices)

    class Meta:
        model = Grade
        fields = [
            "read",
            "read_status",
            "reader",
            "pseudonym",
            "region",
            "group",
            "muscle",
            "side",
            "sequence",
            "value",
        ]


class MuscleFilter(django_filters.FilterSet):
    group = django_filters.CharFilter(field_name="group__slug")
    region = django_filters.CharFilter(field_name="group__region__slug")
    paired = StrictBooleanFilter()
    protocol = django_filters.CharFilter(field_name="protocols__slug")

    class Meta:
        model = Muscle
        fields = ["group", "region", "paired", "protocol"]


class FunctionalGroupFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__slug")

    class Meta:
        model = FunctionalGroup
        fields = ["region"]


class ProtocolFilter(django_filters.FilterSet):
    is_active = StrictBooleanFilter()

    class Meta:
        model = ScoringProtocol
        fields = ["is_active"]


# --- views: reads and grades of a cohort ------------------------------------------------------


@extend_schema_view(get=extend_schema(tags=["reads"]))
class ReadListApi(CohortScopedListApi):
    """Reads of the cohort: who read which study, of what kind, and how far they are."""

    model = Read
    serializer_class = ReadSerializer
    filterset_class = ReadFilter

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Read]:
        return reads_of_cohort(cohort=cohort)


@extend_schema_view(get=extend_schema(tags=["reads"]))
class ReadDetailApi(CohortScopedDetailApi):
    """One read with its grades."""

    model = Read
    serializer_class = ReadDetailSerializer

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Read]:
        return reads_of_cohort(cohort=cohort).prefetch_related("grades__muscle")


@extend_schema_view(get=extend_schema(tags=["reads"]))
class GradeListApi(CohortScopedListApi):
    """Grades of the cohort, one per read, muscle, side and sequence (the grades export is the
    way to take them all at once)."""

    model = Grade
    serializer_class = GradeSerializer
    filterset_class = GradeFilter

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Grade]:
        return grades_of_cohort(cohort=cohort)


# --- views: atlas and protocols ---------------------------------------------------------------


@extend_schema_view(get=extend_schema(tags=["atlas"]))
class RegionListApi(SharedVocabularyMixin, generics.ListAPIView):
    serializer_class = RegionSerializer
    queryset = Region.objects.order_by("order", "pk")


@extend_schema_view(get=extend_schema(tags=["atlas"]))
class FunctionalGroupListApi(SharedVocabularyMixin, generics.ListAPIView):
    serializer_class = FunctionalGroupSerializer
    filterset_class = FunctionalGroupFilter
    queryset = FunctionalGroup.objects.select_related("region").order_by(
        "region__order", "order", "pk"
    )


@extend_schema_view(get=extend_schema(tags=["atlas"]))
class MuscleListApi(SharedVocabularyMixin, generics.ListAPIView):
    serializer_class = MuscleSerializer
    filterset_class = MuscleFilter
    queryset = (
        Muscle.objects.select_related("group__region")
        .order_by("group__region__order", "group__order", "order", "pk")
        .distinct()
    )


@extend_schema_view(get=extend_schema(tags=["atlas"]))
class ProtocolListApi(SharedVocabularyMixin, generics.ListAPIView):
    serializer_class = ProtocolSerializer
    filterset_class = ProtocolFilter
    queryset = ScoringProtocol.objects.prefetch_related("muscles").order_by("name", "version")


@extend_schema_view(get=extend_schema(tags=["atlas"]))
class ProtocolDetailApi(SharedVocabularyMixin, generics.RetrieveAPIView):
    serializer_class = ProtocolSerializer
    filter_backends: list = []
    lookup_field = "slug"
    queryset = ScoringProtocol.objects.prefetch_related("muscles")
