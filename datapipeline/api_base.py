"""Building blocks shared by the REST views: strict input serializers, documented bodies, ping, 404."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils import html
from rest_framework.views import APIView

from .api_errors import KEY_NOT_FOUND
from .errors import NotFound

# Largest value a 64-bit database integer (PostgreSQL bigint, SQLite INTEGER) holds.
MAX_DB_INT = 2**63 - 1


class StrictSerializerScheme(OpenApiSerializerExtension):
    """Documents what ``StrictSerializer`` enforces: no properties beyond the declared ones."""

    target_class = "datapipeline.api_base.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {**auto_schema._map_basic_serializer(self.target, direction), "additionalProperties": False}


def _json_type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` (parsed JSON) is not of the JSON type the field documents, or None."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a valid boolean."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "A valid integer is required."
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else "Not a valid string."
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for item in value:
            problem = _json_type_problem(field.child, item)
            if problem:
                return problem
    return None


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not know, naming them, instead of ignoring them.

    In a JSON body each value must also have the JSON type the field documents: ``"5"`` is not
    a number, ``1`` is not ``true`` and ``5`` is not a string.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                known = ", ".join(self.fields) or "none"
                raise serializers.ValidationError(
                    {name: [f"Unknown field {name!r}; known fields: {known}."] for name in unknown}
                )
            if not html.is_html_input(data):
                wrong = {name: _json_type_problem(self.fields[name], value) for name, value in data.items()}
                if any(wrong.values()):
                    raise serializers.ValidationError({name: [problem] for name, problem in wrong.items() if problem})
        return super().to_internal_value(data)


class GivenQueryParameter:
    """A mixin for optional query parameters: once given, the value must be valid, so ``jobId=`` or
    ``fromDate=`` is refused instead of being read as absent (DRF skips an empty optional field)."""

    field_name: str

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            return dictionary.get(self.field_name)
        return super().get_value(dictionary)  # type: ignore[misc]


class GivenIntegerField(GivenQueryParameter, serializers.IntegerField):
    """An optional integer query parameter; given empty, it is refused."""


class GivenCharField(GivenQueryParameter, serializers.CharField):
    """An optional text query parameter; given empty, it is refused."""


class GivenBooleanField(GivenQueryParameter, serializers.BooleanField):
    """An optional true/false query parameter; given empty, it is refused."""


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ErrorEntrySerializer(serializers.Serializer):
    key = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error body of every 4xx answer."""

    statusCode = serializers.IntegerField()
    message = serializers.CharField()
    errors = ErrorEntrySerializer(many=True)
    timestamp = serializers.DateTimeField()


class EmptyObjectSerializer(serializers.Serializer):
    """``{}``: the answer when there is nothing to show (no export yet, no schedule)."""


class EmptyObjectScheme(OpenApiSerializerExtension):
    target_class = EmptyObjectSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "maxProperties": 0}


def or_empty_object(name: str, serializer: type[serializers.Serializer]) -> PolymorphicProxySerializer:
    """The documented answer "``serializer``'s body, or ``{}`` when there is none"."""
    return PolymorphicProxySerializer(
        component_name=name, serializers=[serializer, EmptyObjectSerializer], resource_type_field_name=None
    )


# The answers every protected operation can give besides its own.
AUTH_ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    413: OpenApiResponse(ErrorSerializer, description="The request body is larger than the server accepts."),
    414: OpenApiResponse(description="The URL is longer than the web server accepts (its own page, not JSON)."),
}


def operation(operation_id: str, summary: str, responses: dict[int, Any] | None = None, **schema: Any) -> Any:
    """``extend_schema`` of a protected operation: its own answers plus ``AUTH_ERRORS``."""
    answers = {**(responses or {}), **AUTH_ERRORS}
    return extend_schema(operation_id=operation_id, summary=summary, responses=answers, **schema)


def integer_parameter(name: str, low: int, high: int, description: str) -> OpenApiParameter:
    """A query parameter documented as a whole number from ``low`` to ``high``."""
    return OpenApiParameter(name, {"type": "integer", "minimum": low, "maximum": high}, description=description)


def body_or_empty(value: Any, to_dict: Any) -> Response:
    """``to_dict(value)``, or ``{}`` when there is nothing (no job yet, no schedule)."""
    return Response({} if value is None else to_dict(value))


class PingApi(APIView):
    """Anonymous liveness check: ``{"ping": "success"}``."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ping",
        auth=[],
        responses={200: inline_serializer("Ping", {"ping": serializers.CharField()})},
    )
    def get(self, request: Any) -> Response:
        return Response({"ping": "success"})


class UnknownEndpointApi(APIView):
    """Any path under /rest/ that is not an endpoint: 404 with the error body, for every method."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    schema = None  # not part of the OpenAPI document

    def _not_found(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(f"No REST endpoint at {request.path}.", key=KEY_NOT_FOUND)

    get = post = put = patch = delete = head = options = _not_found
