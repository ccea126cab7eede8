"""REST view for the opt-out list (SPEC §6 ``config/optout``): list, add, remove spaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from datapipeline.api_base import AUTH_ERRORS, StrictSerializer, validated
from exports.models import Trigger

from .services import optout_add, optout_list, optout_remove

MAX_KEYS_PER_REQUEST = 10_000


class BodyOnDeleteSchema(AutoSchema):
    """Documents the request body of DELETE too (the anchor's remove takes the same body as add)."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


CONTINUE_IF_NOT_FOUND = OpenApiParameter(
    "continueIfNotFound",
    OpenApiTypes.BOOL,
    description="Skip unknown space keys (add) or keys not on the list (remove) instead of refusing the request.",
)


class OptOutApi(APIView):
    """``config/optout``: GET the list, POST adds spaces, DELETE removes them; body ``{type, keys}``."""

    schema = BodyOnDeleteSchema()
    audit_actions = {"POST": "optout.add", "DELETE": "optout.remove"}

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "OptOutInput"

        type = serializers.CharField(max_length=50)
        keys = serializers.ListField(
            child=serializers.CharField(max_length=255), allow_empty=True, max_length=MAX_KEYS_PER_REQUEST
        )

    class QuerySerializer(StrictSerializer):
        continueIfNotFound = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptOutList"

        type = serializers.ChoiceField(choices=["SPACE"])
        keys = serializers.ListField(child=serializers.CharField())

    @staticmethod
    def _body(keys: list[str]) -> dict[str, Any]:
        return {"type": "SPACE", "keys": keys}

    @extend_schema(
        operation_id="optout_list", summary="The opted-out spaces", responses={200: OutputSerializer, **AUTH_ERRORS}
    )
    def get(self, request: Any) -> Response:
        return Response(self._body(optout_list()))

    @extend_schema(
        operation_id="optout_add",
        summary="Add spaces to the opt-out list",
        parameters=[CONTINUE_IF_NOT_FOUND],
        request=InputSerializer,
        responses={200: OutputSerializer, **AUTH_ERRORS},
    )
    def post(self, request: Any) -> Response:
        return self._change(request, optout_add)

    @extend_schema(
        operation_id="optout_remove",
        summary="Remove spaces from the opt-out list",
        parameters=[CONTINUE_IF_NOT_FOUND],
        request=InputSerializer,
        responses={200: OutputSerializer, **AUTH_ERRORS},
    )
    def delete(self, request: Any) -> Response:
        return self._change(request, optout_remove)

    def _change(self, request: Any, service: Callable[..., list[str]]) -> Response:
        query = validated(self.QuerySerializer, request.query_params)
        data = validated(self.InputSerializer, request.data)
        keys = service(
            keys=data["keys"],
            entity_type=data["type"],
            continue_if_not_found=query["continueIfNotFound"],
            user=request.user,
            via=Trigger.API,
        )
        return Response(self._body(keys))
