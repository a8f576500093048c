"""The reading page's JSON endpoints (radiologist, own reads only). Thin: validate, call one
service, answer with blind fields only (label, status, version, grades)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cohorts.roles import RADIOLOGIST, has_role

from .models import GradeSequence, GradeValue, Read, ReaderPreference, Side
from .selectors import protocol_cell_count, read_get_for_reader, read_levels
from .services import (
    CellChange,
    grades_set,
    read_add_active_time,
    read_amend,
    read_level_pin,
    read_missing_cells,
    read_submit,
    read_update_notes,
)


def read_state(read: Read) -> dict[str, object]:
    """What the page needs to know about a read after any change: nothing but blind fields."""
    grades = read.grades.select_related("muscle").values_list(
        "muscle__slug", "side", "sequence", "value"
    )
    return {
        "blind_label": read.blind_label,
        "status": read.status,
        "version": read.version,
        "graded": len(grades),
        "total": protocol_cell_count(protocol=read.protocol),
        "grades": [{"muscle": m, "side": s, "sequence": q, "value": v} for m, s, q, v in grades],
        "note": read.note,
        "findings": read.findings,
        "active_seconds": read.active_seconds,
    }


class CellSerializer(serializers.Serializer):
    muscle = serializers.SlugField()
    side = serializers.ChoiceField(choices=Side.choices)
    sequence = serializers.ChoiceField(choices=GradeSequence.choices)
    value = serializers.ChoiceField(choices=GradeValue.choices)


class ReadStateSerializer(serializers.Serializer):
    blind_label = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    graded = serializers.IntegerField()
    total = serializers.IntegerField()
    grades = CellSerializer(many=True)
    note = serializers.CharField()
    findings = serializers.DictField()
    active_seconds = serializers.IntegerField()


class SavedSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()
    graded = serializers.IntegerField()


class PreferenceSerializer(serializers.Serializer):
    voi = serializers.DictField()
    keymap = serializers.DictField()


def _changes(cells: list[dict]) -> list[CellChange]:
    # Muscles by slug: the service resolves them against the read's protocol.
    return [CellChange(c["muscle"], c["side"], c["sequence"], c["value"]) for c in cells]


def _saved(read: Read) -> dict[str, object]:
    """The answer to a save: the new version (the page's next expected one) and progress."""
    return {"version": read.version, "status": read.status, "graded": read.n_graded}


def _fresh(read: Read) -> Read:
    return Read.objects.select_related("protocol").get(pk=read.pk)


class ReadStateApi(APIView):
    @extend_schema(responses=ReadStateSerializer)
    def get(self, request, read_token: str) -> Response:
        return Response(read_state(read_get_for_reader(read_token=read_token, user=request.user)))


class GradesSetApi(APIView):
    """Save one or more cells (the page's autosave). 409 when the read changed elsewhere."""

    class GradesSetInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(min_value=0)
        changes = CellSerializer(many=True, allow_empty=False, max_length=400)

    @extend_schema(request=GradesSetInputSerializer, responses={200: SavedSerializer})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.GradesSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        read = grades_set(
            read=read,
            changes=_changes(data.validated_data["changes"]),
            actor=request.user,
            expected_version=data.validated_data["version"],
        )
        return Response(_saved(read))


class ReadSubmitApi(APIView):
    class ReadSubmitInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(min_value=0)

    @extend_schema(request=ReadSubmitInputSerializer, responses={200: ReadStateSerializer})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.ReadSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        missing = read_missing_cells(read=read)
        if missing:
            return Response(
                {
                    "detail": "Every cell must be graded or marked NA before the read can be "
                    "submitted.",
                    "code": "incomplete",
                    "missing": [
                        {"muscle": m.slug, "name": m.name, "side": side, "sequence": seq}
                        for m, side, seq in missing
                    ],
                },
                status=400,
            )
        read = read_submit(
            read=read, actor=request.user, expected_version=data.validated_data["version"]
        )
        return Response(read_state(_fresh(read)))


class ReadAmendApi(APIView):
    class ReadAmendInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(min_value=0)
        reason = serializers.CharField(max_length=2000, allow_blank=True)
        changes = CellSerializer(many=True, allow_empty=False, max_length=400)

    @extend_schema(request=ReadAmendInputSerializer, responses={200: SavedSerializer})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.ReadAmendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        read = read_amend(
            read=read,
            changes=_changes(data.validated_data["changes"]),
            actor=request.user,
            reason=data.validated_data["reason"],
            expected_version=data.validated_data["version"],
        )
        return Response(_saved(read))


class ReadNotesApi(APIView):
    class ReadNotesInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(min_value=0)
        note = serializers.CharField(max_length=10000, allow_blank=True, required=False)
        findings = serializers.DictField(
            child=serializers.DictField(child=serializers.BooleanField()), required=False
        )

    @extend_schema(request=ReadNotesInputSerializer, responses={200: SavedSerializer})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.ReadNotesInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        read = read_update_notes(
            read=read,
            actor=request.user,
            expected_version=data.validated_data["version"],
            note=data.validated_data.get("note"),
            findings=data.validated_data.get("findings"),
        )
        return Response({"version": read.version})


class ReadLevelsApi(APIView):
    """The reader pins the level of a functional group ("this slice is the thigh")."""

    class ReadLevelInputSerializer(serializers.Serializer):
        group = serializers.CharField(max_length=60)
        position = serializers.FloatField(min_value=-5000, max_value=5000)

    @extend_schema(request=ReadLevelInputSerializer, responses={200: None})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.ReadLevelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        read = read_level_pin(read=read, actor=request.user, **data.validated_data)
        return Response({"levels": read_levels(read=read)})


class ReadActivityApi(APIView):
    """Active reading time reported by the page (seconds since its last report)."""

    class ReadActivityInputSerializer(serializers.Serializer):
        seconds = serializers.IntegerField(min_value=0, max_value=300)

    @extend_schema(request=ReadActivityInputSerializer, responses={204: None})
    def post(self, request, read_token: str) -> Response:
        read = read_get_for_reader(read_token=read_token, user=request.user)
        data = self.ReadActivityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        read_add_active_time(read=read, seconds=data.validated_data["seconds"])
        return Response(status=204)


class ReaderPreferenceApi(APIView):
    """Last window/level per sequence and remapped shortcuts of the signed-in reader."""

    class ReaderPreferenceInputSerializer(serializers.Serializer):
        voi = serializers.DictField(
            child=serializers.DictField(child=serializers.FloatField()), required=False
        )
        keymap = serializers.DictField(required=False)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not has_role(request.user, RADIOLOGIST):
            raise PermissionDenied("Only radiologists keep reading preferences.")

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request) -> Response:
        prefs = ReaderPreference.objects.filter(reader=request.user).first()
        return Response(
            {"voi": prefs.voi if prefs else {}, "keymap": prefs.keymap if prefs else {}}
        )

    @extend_schema(request=ReaderPreferenceInputSerializer, responses=PreferenceSerializer)
    def post(self, request) -> Response:
        from .services import reader_preferences_update

        data = self.ReaderPreferenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prefs = reader_preferences_update(reader=request.user, **data.validated_data)
        return Response({"voi": prefs.voi, "keymap": prefs.keymap})
