"""REST view for the opt-out list (``config/optout``): list, add, remove spaces.

Answers as Atlassian's Data pipeline does: GET ``{"optedOutEntities": [entity…]}``; POST and
DELETE ``{"entitiesProcessed": [entity…], "entitiesNotFound": [key…] or null}``, where an entity
is ``{type, identifier, key, displayName, uri}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from datapipeline.api_base import GivenBooleanField, StrictSerializer, operation, validated
from exports.models import Trigger

from .selectors import optout_entities, scope_entities
from .services import OptOutChange, optout_add, optout_remove, supported_types

MAX_KEYS_PER_REQUEST = 10_000


class BodyOnDeleteSchema(AutoSchema):
    """Documents the request body of DELETE too (remove takes the same body as add)."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


# The registered opt-out scopes (the URLs, and so this module, load once the apps are ready).
@extend_schema_field({"type": "string", "enum": supported_types()})
class OptOutTypeField(serializers.CharField):
    """The entity type; the service names the supported ones when it is not one of them."""


class EntitySerializer(serializers.Serializer):
    """One opted-out entity, as Atlassian's Data pipeline describes it."""

    class Meta:
        ref_name = "OptOutEntity"

    type = serializers.ChoiceField(choices=supported_types())
    identifier = serializers.CharField(allow_null=True, help_text="The space's numeric id; null: no such space.")
    key = serializers.CharField(help_text="The space key.")
    displayName = serializers.CharField(allow_null=True, help_text="The space's name.")
    uri = serializers.CharField(allow_null=True, help_text="The space's URL.")


@extend_schema_field({"type": "string", "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$", "maxLength": 255})
class SpaceKeyField(serializers.CharField):
    """A space key as typed: not blank, no NUL character (the database cannot store one)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


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

        type = OptOutTypeField(max_length=50)
        keys = serializers.ListField(
            child=SpaceKeyField(max_length=255), allow_empty=True, max_length=MAX_KEYS_PER_REQUEST
        )

    class QuerySerializer(StrictSerializer):
        continueIfNotFound = GivenBooleanField(required=False, default=False)

    class ListSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptOutList"

        optedOutEntities = EntitySerializer(many=True)

    class ChangeSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptOutChange"

        entitiesProcessed = EntitySerializer(many=True)
        entitiesNotFound = serializers.ListField(
            child=serializers.CharField(), allow_null=True, help_text="Keys skipped; null when every key was found."
        )

    @operation(operation_id="optout_list", summary="The opted-out spaces", responses={200: ListSerializer})
    def get(self, request: Any) -> Response:
        return Response({"optedOutEntities": optout_entities()})

    change_schema = {
        "parameters": [CONTINUE_IF_NOT_FOUND],
        "request": InputSerializer,
        "responses": {200: ChangeSerializer},
    }

    @operation("optout_add", "Add spaces to the opt-out list", **change_schema)
    def post(self, request: Any) -> Response:
        return self._change(request, optout_add)

    @operation("optout_remove", "Remove spaces from the opt-out list", **change_schema)
    def delete(self, request: Any) -> Response:
        return self._change(request, optout_remove)

    def _change(self, request: Any, service: Callable[..., OptOutChange]) -> Response:
        query = validated(self.QuerySerializer, request.query_params)
        data = validated(self.InputSerializer, request.data)
        change = service(
            keys=data["keys"],
            entity_type=data["type"],
            continue_if_not_found=query["continueIfNotFound"],
            user=request.user,
            via=Trigger.API,
        )
        processed = scope_entities(change.type, change.processed)
        return Response({"entitiesProcessed": processed, "entitiesNotFound": change.not_found or None})
