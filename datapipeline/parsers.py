"""The REST API's request parser: bounded size and nesting, valid UTF-8 text."""

from __future__ import annotations

import io
import re
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# Deeper JSON than any endpoint takes is refused before it is parsed (a deep body exhausts the stack).
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class RequestBodyTooLarge(APIException):
    """The request body is larger than the server accepts (``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def body_size_limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(limit: int) -> str:
    return f"The request body is larger than the limit of {limit:,} bytes."


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in ``raw`` (brackets inside strings do not count); no recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    """JSON of bounded size and nesting that is also valid UTF-8 text (a lone surrogate escape is malformed)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = body_size_limit()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestBodyTooLarge(too_large_message(limit))
        depth = json_depth(raw)
        if depth > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - arrays and objects nest {depth} deep; the limit is {MAX_JSON_DEPTH}.")
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if _has_lone_surrogate(data):
            raise ParseError("JSON parse error - the body contains an unpaired surrogate escape (not valid Unicode).")
        return data
