"""Read-only API of cohorts, patients with their clinical data, studies and series.

For clinicians, coordinators and statisticians of the cohort; radiologists are refused (403).
Which rows a user sees is decided by `cohorts.selectors` (membership); everything under
/cohorts/{slug}/ is scoped to the cohort that selector returned.
"""

from __future__ import annotations

import django_filters
from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated

from iim_scoring.api.base import CohortScopedDetailApi, CohortScopedListApi
from iim_scoring.api.filters import StrictBooleanFilter
from iim_scoring.api.pagination import ApiPagination
from iim_scoring.api.permissions import HoldsCohortDataRole
from iim_scoring.api.schema import ApiSchema

from .choices import BodyCoverage, Sequence, Sex, Subtype
from .models import ClinicalAssessment, Cohort, ImagingStudy, Patient, Series
from .selectors import cohorts_for_user, patients_for_user
from .services import ASSESSMENT_FIELDS, PATIENT_FIELDS

# --- selectors scoped to a cohort the user may see ---------------------------------------------


def cohorts_with_counts_for_user(*, user) -> QuerySet[Cohort]:
    return (
        cohorts_for_user(user=user)
        .prefetch_related("sites")
        .annotate(n_patients=Count("patients", distinct=True))
        .order_by("slug")
    )


def patients_with_clinical_data(*, user, cohort: Cohort) -> QuerySet[Patient]:
    return (
        patients_for_user(user=user, cohort=cohort)
        .prefetch_related(
            Prefetch("assessments", queryset=ClinicalAssessment.objects.order_by("timepoint"))
        )
        .order_by("pseudonym")
    )


def studies_of_cohort(*, cohort: Cohort) -> QuerySet[ImagingStudy]:
    """The cohort's studies with their series (the cohort was checked by its selector)."""
    return (
        ImagingStudy.objects.filter(patient__cohort=cohort)
        .select_related("patient")
        .prefetch_related(
            Prefetch("series", queryset=Series.objects.order_by("series_number", "pk"))
        )
        .order_by("patient__pseudonym", "timepoint", "pk")
    )


def series_of_cohort(*, cohort: Cohort) -> QuerySet[Series]:
    return (
        Series.objects.filter(study__patient__cohort=cohort)
        .select_related("study__patient")
        .order_by("study__patient__pseudonym", "study__timepoint", "series_number", "pk")
    )


# --- serializers --------------------------------------------------------------------------------


class SiteSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CohortSerializer(serializers.ModelSerializer):
    sites = SiteSerializer(many=True, read_only=True)
    n_patients = serializers.IntegerField(read_only=True)

    class Meta:
        model = Cohort
        fields = [
            "slug",
            "title",
            "description",
            "is_synthetic",
            "sites",
            "n_patients",
            "created_at",
        ]


class ClinicalAssessmentSerializer(serializers.ModelSerializer):
    disease_duration_months = serializers.DecimalField(
        max_digits=6, decimal_places=1, coerce_to_string=False, allow_null=True, read_only=True
    )

    class Meta:
        model = ClinicalAssessment
        fields = ["timepoint", *ASSESSMENT_FIELDS, "updated_at"]


class PatientSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", allow_null=True, default=None)
    n_studies = serializers.IntegerField(read_only=True)
    n_reads = serializers.IntegerField(read_only=True)
    assessments = ClinicalAssessmentSerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        # The clinical fields in the order the patient service audits them.
        fields = [
            "pseudonym",
            *PATIENT_FIELDS,
            "is_synthetic",
            "n_studies",
            "n_reads",
            "assessments",
        ]


class SeriesSerializer(serializers.ModelSerializer):
    class Meta:
        model = Series
        fields = [
            "series_uid",
            "series_number",
            "sequence",
            "sequence_detected",
            "role_source",
            "description",
            "lossy",
            "burned_in_annotation",
            "echo_time",
            "repetition_time",
            "inversion_time",
            "slice_count",
            "orientation",
            "pixel_spacing",
        ]


class SeriesWithStudySerializer(SeriesSerializer):
    study = serializers.CharField(source="study.study_uid")
    pseudonym = serializers.CharField(source="study.patient.pseudonym")
    timepoint = serializers.IntegerField(source="study.timepoint")

    class Meta(SeriesSerializer.Meta):
        fields = ["study", "pseudonym", "timepoint", *SeriesSerializer.Meta.fields]


class StudySerializer(serializers.ModelSerializer):
    pseudonym = serializers.CharField(source="patient.pseudonym")
    series = SeriesSerializer(many=True, read_only=True)

    class Meta:
        model = ImagingStudy
        fields = [
            "study_uid",
            "pseudonym",
            "timepoint",
            "days_from_baseline",
            "description",
            "field_strength",
            "scanner_model",
            "body_coverage",
            "series",
        ]


# --- filters ------------------------------------------------------------------------------------


class PatientFilter(django_filters.FilterSet):
    subtype = django_filters.ChoiceFilter(choices=Subtype.choices)
    sex = django_filters.ChoiceFilter(choices=Sex.choices)
    site = django_filters.CharFilter(field_name="site__code")
    seronegative = StrictBooleanFilter()
    pseudonym = django_filters.CharFilter()

    class Meta:
        model = Patient
        fields = ["subtype", "sex", "site", "seronegative", "pseudonym"]


class StudyFilter(django_filters.FilterSet):
    pseudonym = django_filters.CharFilter(field_name="patient__pseudonym")
    timepoint = django_filters.NumberFilter()
    body_coverage = django_filters.ChoiceFilter(choices=BodyCoverage.choices)

    class Meta:
        model = ImagingStudy
        fields = ["pseudonym", "timepoint", "body_coverage"]


class SeriesFilter(django_filters.FilterSet):
    study = django_filters.CharFilter(field_name="study__study_uid")
    pseudonym = django_filters.CharFilter(field_name="study__patient__pseudonym")
    sequence = django_filters.ChoiceFilter(choices=Sequence.choices)

    class Meta:
        model = Series
        fields = ["study", "pseudonym", "sequence"]


# --- views --------------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class CohortListApi(generics.ListAPIView):
    """Cohorts you are a member of."""

    permission_classes = [IsAuthenticated, HoldsCohortDataRole]
    schema = ApiSchema()
    pagination_class = ApiPagination
    serializer_class = CohortSerializer

    def get_queryset(self) -> QuerySet[Cohort]:
        return cohorts_with_counts_for_user(user=self.request.user)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class CohortDetailApi(generics.RetrieveAPIView):
    """One cohort (404 if you are not a member)."""

    permission_classes = [IsAuthenticated, HoldsCohortDataRole]
    schema = ApiSchema()
    serializer_class = CohortSerializer
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Cohort]:
        return cohorts_with_counts_for_user(user=self.request.user)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class PatientListApi(CohortScopedListApi):
    """The cohort's patients with their clinical assessments (one per timepoint)."""

    model = Patient
    serializer_class = PatientSerializer
    filterset_class = PatientFilter

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Patient]:
        return patients_with_clinical_data(user=self.request.user, cohort=cohort)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class PatientDetailApi(CohortScopedDetailApi):
    model = Patient
    serializer_class = PatientSerializer
    lookup_field = "pseudonym"

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Patient]:
        return patients_with_clinical_data(user=self.request.user, cohort=cohort)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class StudyListApi(CohortScopedListApi):
    """The cohort's MRI studies (pseudonymized UIDs, day offsets) with their series."""

    model = ImagingStudy
    serializer_class = StudySerializer
    filterset_class = StudyFilter

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[ImagingStudy]:
        return studies_of_cohort(cohort=cohort)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class StudyDetailApi(CohortScopedDetailApi):
    model = ImagingStudy
    serializer_class = StudySerializer
    lookup_field = "study_uid"

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[ImagingStudy]:
        return studies_of_cohort(cohort=cohort)


@extend_schema_view(get=extend_schema(tags=["cohorts"]))
class SeriesListApi(CohortScopedListApi):
    """The cohort's series, each with its study, sequence and acquisition parameters."""

    model = Series
    serializer_class = SeriesWithStudySerializer
    filterset_class = SeriesFilter

    def get_cohort_queryset(self, cohort: Cohort) -> QuerySet[Series]:
        return series_of_cohort(cohort=cohort)
