"""The JSON parser of every DRF endpoint: bounded before it is decoded.

Python's decoder recurses once per nesting level, so `"[" * 50000` raised RecursionError (a 500)
before any view code ran. Here the nesting depth is counted first, without recursion, and the
body's size and NUL characters (which Postgres cannot store in text or jsonb) are refused too:
each a 400 with a message.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# Deeper than anything the API accepts: a grade save is {"changes": [{...}]}, depth 3.
JSON_MAX_DEPTH = 32
JSON_TOO_DEEP = f"JSON nested deeper than {JSON_MAX_DEPTH} levels is not accepted."
JSON_TOO_LARGE = "The request body is too large."
JSON_HAS_NUL = "Text must not contain NUL characters."
JSON_INVALID = "The request body is not valid JSON."

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, brackets inside strings ignored."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _has_nul(text: str) -> bool:
    if "\x00" in text:
        return True
    # An escaped backslash before "u0000" is text, not a NUL: look only at the strings' escapes.
    return any(_NUL_ESCAPE.search(s.replace("\\\\", "")) for s in _STRING.findall(text))


class BoundedJSONParser(JSONParser):
    """JSONParser with a size, depth and NUL check before decoding."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(JSON_TOO_LARGE)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(JSON_INVALID) from exc
        if json_depth(text) > JSON_MAX_DEPTH:
            raise ParseError(JSON_TOO_DEEP)
        if _has_nul(text):
            raise ParseError(JSON_HAS_NUL)
        try:
            if self.strict:
                return json.loads(text)  # refuses NaN and Infinity
            return json.json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"{JSON_INVALID} {exc}") from exc
