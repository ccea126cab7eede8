"""Building blocks shared by the REST views: strict input serializers, documented bodies, ping, 404."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .api_errors import KEY_NOT_FOUND
from .errors import NotFound

# Largest value a 64-bit database integer (PostgreSQL bigint, SQLite INTEGER) holds.
MAX_DB_INT = 2**63 - 1


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not know, naming them, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                known = ", ".join(self.fields) or "none"
                raise serializers.ValidationError(
                    {name: [f"Unknown field {name!r}; known fields: {known}."] for name in unknown}
                )
        return super().to_internal_value(data)


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


# The answers every protected operation can give besides its own.
AUTH_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


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
