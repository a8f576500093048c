"""OpenAPI generation for the API: every operation documents its error responses too, so
clients (and schemathesis) know a 403 or 404 is part of the contract, not a surprise."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: `detail` says what went wrong; validation errors name the fields.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}
NO_NUL = "^[^\\u0000]*$"
ERROR_RESPONSES = {
    "400": "Invalid query parameters.",
    "401": "Authentication failed (bad token).",
    "403": "Not signed in, or your role may not read this.",
    "404": "No such object, or not in a cohort you belong to.",
}


class ApiSchema(AutoSchema):
    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        for parameter in parameters:
            # As everywhere in DRF and django-filter: `?status=` means the same as no status.
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not ({"enum", "pattern", "format"} & set(schema)):
                # Django's forms refuse NUL characters in text (and Postgres cannot store them).
                schema["pattern"] = NO_NUL
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                )
        return responses
