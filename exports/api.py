"""Exports and stored analysis results of a cohort over the REST API (read-only, thin).

The format is chosen by `?format=` (csv by default) and never by the Accept header, so a link
pasted into R or a browser gives the same file. Errors are always JSON, whatever was asked.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.analyses import MixedScales
from analytics.models import AnalysisResult
from analytics.parameters import CORRECTIONS, ParameterError, parameters_from_query
from analytics.recompute import ANALYSES
from cohorts.choices import Subtype
from cohorts.selectors import cohort_get_for_user
from exports.codebook import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    AtlasVocabulary,
    Variable,
    export_variables,
)
from exports.formats import FORMATS, MEDIA_TYPES, export_response
from exports.queries import (
    TIMEPOINT_PATTERN,
    GradesQuerySerializer,
    NoQuerySerializer,
    PatientsQuerySerializer,
    ReadScoresQuerySerializer,
    ScoresQuerySerializer,
    table_options,
)
from exports.tables import analysis_results_for, export_table
from iim_scoring.api.permissions import HoldsCohortDataRole
from iim_scoring.api.schema import ApiSchema

# --- format selection -------------------------------------------------------------------------


class _ExportRenderer(BaseRenderer):
    """Names a format for `?format=`; the view builds the bytes itself (streamed)."""

    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        return JSONRenderer().render(data)


EXPORT_RENDERERS = [
    type(
        f"{fmt.capitalize()}ExportRenderer",
        (_ExportRenderer,),
        {"format": fmt, "media_type": MEDIA_TYPES[fmt]},
    )
    for fmt in FORMATS
]


class ExportFormatNegotiation(BaseContentNegotiation):
    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None):
        wanted = request.query_params.get("format") or "csv"
        for renderer in renderers:
            if renderer.format == wanted:
                return renderer, renderer.media_type
        raise exceptions.ValidationError({"format": [f"Choose one of {', '.join(FORMATS)}."]})


# --- OpenAPI description of the files ---------------------------------------------------------

_JSON_TYPES = {INTEGER: "integer", NUMBER: "number", BOOLEAN: "boolean"}


def _json_rows_schema(variables: list[Variable], *, more_numbers: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "object",
        "properties": {
            v.name: {
                "type": _JSON_TYPES.get(v.type, "string"),
                "nullable": True,
                "description": v.meaning,
            }
            for v in variables
        },
    }
    if more_numbers:  # one column per functional group and region of the atlas
        row["additionalProperties"] = {"type": "number", "nullable": True}
    return {"type": "array", "items": row}


def _file_responses(export: str) -> dict[Any, Any]:
    variables = export_variables(export, AtlasVocabulary((), (), ()))
    binary = OpenApiResponse(OpenApiTypes.BINARY, description=f"The {export} export as a file.")
    return {
        (200, MEDIA_TYPES["csv"]): OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8."),
        (200, MEDIA_TYPES["json"]): OpenApiResponse(
            _json_rows_schema(variables, more_numbers=export == "group-scores"),
            description="JSON array of rows keyed by column name.",
        ),
        (200, MEDIA_TYPES["xlsx"]): binary,
        (200, MEDIA_TYPES["sav"]): binary,
        (200, MEDIA_TYPES["parquet"]): binary,
    }


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=list(FORMATS),
    default="csv",
    description="File format: csv (default), json, xlsx, sav (SPSS) or parquet.",
)


# --- views ------------------------------------------------------------------------------------


class CohortExportApi(APIView):
    """Base of the export endpoints: the cohort is checked first, then the file is written."""

    permission_classes = [IsAuthenticated, HoldsCohortDataRole]
    renderer_classes = EXPORT_RENDERERS
    content_negotiation_class = ExportFormatNegotiation
    schema = ApiSchema()
    export_name = ""
    query_serializer_class: type[serializers.Serializer] = NoQuerySerializer

    def get(self, request: Request, slug: str):
        cohort = cohort_get_for_user(slug=slug, user=request.user)
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            table = export_table(
                self.export_name, cohort=cohort, **table_options(query.validated_data)
            )
        except MixedScales as refused:
            raise exceptions.ValidationError({"protocol": [str(refused)]}) from refused
        etag = f'"{table.version}-{request.accepted_renderer.format}"'
        if etag in request.headers.get("If-None-Match", ""):
            unchanged = HttpResponse(status=304)
            unchanged["ETag"] = etag
            return unchanged
        return export_response(
            table,
            fmt=request.accepted_renderer.format,
            filename_stem=f"{cohort.slug}-{self.export_name}",
        )

    def finalize_response(self, request: Request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: JSON whatever format was asked for
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _export_view(
    name: str, query: type[serializers.Serializer], summary: str
) -> type[CohortExportApi]:
    @extend_schema(
        operation_id=f"cohort_export_{name.replace('-', '_')}",
        summary=summary,
        tags=["exports"],
        parameters=[FORMAT_PARAMETER, *([query] if query is not NoQuerySerializer else [])],
        responses=_file_responses(name),
    )
    def get(self: CohortExportApi, request: Request, slug: str):
        return CohortExportApi.get(self, request, slug)

    return type(
        "".join(part.capitalize() for part in name.split("-")) + "ExportApi",
        (CohortExportApi,),
        {"export_name": name, "query_serializer_class": query, "__doc__": summary, "get": get},
    )


GradesExportApi = _export_view(
    "grades",
    GradesQuerySerializer,
    "Grades, long: one row per read, muscle, side and sequence, with study and series UIDs.",
)
ReadScoresExportApi = _export_view(
    "read-scores",
    ReadScoresQuerySerializer,
    "Read scores, long, for agreement work: one row per read, scope and scored unit (muscle, "
    "group, region, limb, total), with reader and read kind; readers not combined.",
)
MuscleScoresExportApi = _export_view(
    "muscle-scores",
    ScoresQuerySerializer,
    "Muscle scores, long: one row per patient, timepoint and muscle (readers combined).",
)
GroupScoresExportApi = _export_view(
    "group-scores",
    ScoresQuerySerializer,
    "Group, region and total scores, wide, with the clinical columns: one row per visit.",
)
PatientsExportApi = _export_view(
    "patients", PatientsQuerySerializer, "Clinical data: one row per patient and timepoint."
)
CodebookExportApi = _export_view(
    "codebook", NoQuerySerializer, "Every variable of every export: type, unit, values, meaning."
)


class AnalysisResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = AnalysisResult
        fields = [
            "analysis",
            "status",
            "parameters",
            "input_fingerprint",
            "code_version",
            "computed_at",
            "message",
            "result",
        ]


class CohortAnalyticsSerializer(serializers.Serializer):
    cohort = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["fresh", "stale", "failed", "not computed"],
        help_text="fresh: computed from the current data; stale: the data changed since and a "
        "recomputation is on its way; failed: the last recomputation failed (last_error), these "
        "are older results; not computed: no stored result for this parameter set.",
    )
    last_error = serializers.CharField()
    stale = serializers.BooleanField(help_text="Grades or clinical data changed since.")
    recomputing = serializers.BooleanField()
    parameters = serializers.DictField(help_text="The parameter set these results are of.")
    results = AnalysisResultSerializer(many=True)


class AnalyticsQuerySerializer(serializers.Serializer):
    """The dashboard's filters (analytics.parameters); none: the default set."""

    analysis = serializers.ChoiceField(
        choices=ANALYSES,
        required=False,
        help_text="Only this analysis; empty: every analysis.",
    )
    site = serializers.ListField(child=serializers.CharField(), required=False)
    subtype = serializers.ListField(
        child=serializers.ChoiceField(choices=list(Subtype.values)), required=False
    )
    reader = serializers.ListField(child=serializers.IntegerField(), required=False)
    protocol = serializers.CharField(required=False)
    timepoint = serializers.RegexField(
        TIMEPOINT_PATTERN, required=False, help_text="baseline (default) or 1, 2, ..."
    )
    ck = serializers.ChoiceField(choices=["linear", "log10"], required=False)
    correction = serializers.ChoiceField(choices=list(CORRECTIONS), required=False)


class CohortAnalyticsApi(APIView):
    """The stored results of one parameter set (the default set when no filter is given),
    addressed by the dashboard's filter names; an unknown name or value is a 400."""

    permission_classes = [IsAuthenticated, HoldsCohortDataRole]
    schema = ApiSchema()

    @extend_schema(
        operation_id="cohort_analytics",
        tags=["analytics"],
        parameters=[AnalyticsQuerySerializer],
        responses=CohortAnalyticsSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        cohort = cohort_get_for_user(slug=slug, user=request.user)
        try:
            parameters = parameters_from_query(
                cohort, request.query_params, also_allowed=("analysis",)
            )
        except ParameterError as error:
            raise exceptions.ValidationError(error.problems) from error
        analysis = request.query_params.get("analysis") or None
        if analysis is not None and analysis not in ANALYSES:
            raise exceptions.ValidationError({"analysis": f"must be one of {', '.join(ANALYSES)}"})
        found = analysis_results_for(cohort=cohort, parameters=parameters, analysis=analysis)
        return Response(CohortAnalyticsSerializer(found).data)
