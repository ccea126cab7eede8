"""REST views for exports (SPEC §6): start, status, cancel, history, export path, schema versions.

Each view validates its input, calls one service or selector and serializes the answer; errors
become the compatible error body in ``datapipeline.api_errors``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from datapipeline.api_base import (
    AUTH_ERRORS,
    MAX_DB_INT,
    ErrorEntrySerializer,
    ErrorSerializer,
    StrictSerializer,
    validated,
)
from datapipeline.api_errors import error_body
from datapipeline.errors import KEY_JOB_NOT_FOUND, Conflict, NotFound
from datapipeline.paths import export_path_reset, export_path_set, export_root
from datapipeline.schema import VERSIONS

from .models import JobStatus, Trigger
from .schedules import schedule_delete, schedule_get, schedule_set, schedule_to_dict
from .selectors import job_current_or_last, job_list, job_to_dict
from .services import export_cancel, export_start

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_OFFSET = 2**31 - 1
KEY_SCHEDULE_NOT_FOUND = "schedule.not.found"


class SchemaInfoSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """The compatible job body (``exports.selectors.job_to_dict``); documents the answers."""

    class ConfigSerializer(serializers.Serializer):
        exportFrom = serializers.DateTimeField()
        forcedExport = serializers.BooleanField()

    class StatisticsSerializer(serializers.Serializer):
        exportedEntities = serializers.IntegerField()
        writtenRows = serializers.IntegerField()
        entities = serializers.DictField(required=False)

    class OptedOutSerializer(serializers.Serializer):
        type = serializers.CharField()
        identifiers = serializers.ListField(child=serializers.CharField())

    jobId = serializers.IntegerField()
    nodeId = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.values)
    startTime = serializers.DateTimeField(allow_null=True)
    completedTime = serializers.DateTimeField(allow_null=True)
    cancelledTime = serializers.DateTimeField(allow_null=True)
    schema = SchemaInfoSerializer()
    config = ConfigSerializer()
    statistics = StatisticsSerializer()
    warnings = ErrorEntrySerializer(many=True)
    errors = ErrorEntrySerializer(many=True)
    rootExportPath = serializers.CharField()
    optedOutEntities = OptedOutSerializer(many=True)
    trigger = serializers.CharField(required=False)
    heartbeat = serializers.DateTimeField(allow_null=True, required=False)


class JobErrorSerializer(JobSerializer):
    """A job body with the error fields: the running job on 409, the failed job on 422."""

    statusCode = serializers.IntegerField()
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()


class ExportApi(APIView):
    """``export``: POST starts an export, GET shows the current (else last) job, DELETE cancels."""

    audit_actions = {"POST": "export.start", "DELETE": "export.cancel"}

    class StartInputSerializer(StrictSerializer):
        class Meta:
            ref_name = "ExportStartQuery"

        fromDate = serializers.CharField(required=False, allow_blank=True, max_length=100)
        forceExport = serializers.BooleanField(required=False, default=False)
        schemaVersion = serializers.CharField(required=False, allow_blank=True, max_length=20)

    class CancelInputSerializer(StrictSerializer):
        class Meta:
            ref_name = "ExportCancelQuery"

        jobId = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DB_INT)

    class CancelOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ExportCancelled"

        jobId = serializers.IntegerField()
        status = serializers.CharField(help_text="OK")
        message = serializers.CharField()

    class CancelWarningSerializer(ErrorSerializer):
        class Meta:
            ref_name = "ExportCancelWarning"

        jobId = serializers.IntegerField(allow_null=True)
        status = serializers.CharField(help_text="WARNING")

    @extend_schema(
        operation_id="export_start",
        summary="Start an export",
        parameters=[
            OpenApiParameter(
                "fromDate", OpenApiTypes.DATETIME, description="ISO 8601 with an offset; default now - 365 days."
            ),
            OpenApiParameter(
                "forceExport", OpenApiTypes.BOOL, description="Turn pre-validation failures into warnings."
            ),
            OpenApiParameter("schemaVersion", OpenApiTypes.INT, description="A supported schema version."),
        ],
        request=None,
        responses={202: JobSerializer, 409: JobErrorSerializer, 422: JobErrorSerializer, **AUTH_ERRORS},
    )
    def post(self, request: Any) -> Response:
        params = validated(self.StartInputSerializer, request.query_params)
        job = export_start(
            from_date=params.get("fromDate") or None,
            schema_version=params.get("schemaVersion") or None,
            force_export=params["forceExport"],
            trigger=Trigger.API,
            user=request.user,
        )
        body = job_to_dict(job)
        if job.status == JobStatus.FAILED:
            message = f"Export {job.pk} failed its pre-validation and did not run; see errors (forceExport overrides)."
            return Response({**body, **error_body(422, message, job.errors)}, status=422)
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="export_status",
        summary="The running export, else the last one",
        responses={200: JobSerializer, 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request: Any) -> Response:
        job = job_current_or_last()
        if job is None:
            raise NotFound("No export has run yet.", key=KEY_JOB_NOT_FOUND)
        return Response(job_to_dict(job))

    @extend_schema(
        operation_id="export_cancel",
        summary="Cancel the latest export, or the one given by jobId",
        parameters=[
            OpenApiParameter("jobId", OpenApiTypes.INT, description="A job id (positive); default the latest.")
        ],
        responses={200: CancelOutputSerializer, 409: CancelWarningSerializer, **AUTH_ERRORS},
    )
    def delete(self, request: Any) -> Response:
        params = validated(self.CancelInputSerializer, request.query_params)
        try:
            job = export_cancel(job_id=params.get("jobId"), user=request.user, via=Trigger.API)
        except Conflict as exc:
            latest = job_current_or_last()
            job_id = params.get("jobId") or (latest.pk if latest else None)
            exc.body_extra = {"status": "WARNING", "jobId": job_id}
            raise
        if job.status == JobStatus.CANCELLED:
            message = f"Export {job.pk} was cancelled at once: its worker had stopped responding."
        else:
            message = f"Cancellation of export {job.pk} requested; it stops within seconds."
        return Response({"jobId": job.pk, "status": "OK", "message": message})


class HistoryApi(APIView):
    """``history``: jobs newest first, one page at a time."""

    class InputSerializer(StrictSerializer):
        offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_OFFSET)
        limit = serializers.IntegerField(
            required=False, default=DEFAULT_PAGE_SIZE, min_value=1, max_value=MAX_PAGE_SIZE
        )

    class PageRequestSerializer(serializers.Serializer):
        offset = serializers.IntegerField()
        limit = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        offset = serializers.IntegerField()
        limit = serializers.IntegerField()
        size = serializers.IntegerField()
        lastPage = serializers.BooleanField()
        nextPageRequest = serializers.DictField(allow_null=True)  # documented precisely below
        values = JobSerializer(many=True)

    @extend_schema(
        operation_id="export_history",
        summary="Export history, newest first",
        parameters=[
            OpenApiParameter("offset", OpenApiTypes.INT, description="Jobs to skip (>= 0); default 0."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Page size, 1..{MAX_PAGE_SIZE}; default {DEFAULT_PAGE_SIZE}."
            ),
        ],
        responses={
            200: inline_serializer(
                "HistoryPage",
                {
                    "offset": serializers.IntegerField(),
                    "limit": serializers.IntegerField(),
                    "size": serializers.IntegerField(),
                    "lastPage": serializers.BooleanField(),
                    "nextPageRequest": inline_serializer(
                        "PageRequest",
                        {"offset": serializers.IntegerField(), "limit": serializers.IntegerField()},
                        allow_null=True,
                    ),
                    "values": JobSerializer(many=True),
                },
            ),
            **AUTH_ERRORS,
        },
    )
    def get(self, request: Any) -> Response:
        params = validated(self.InputSerializer, request.query_params)
        offset, limit = params["offset"], params["limit"]
        jobs, last_page = job_list(offset=offset, limit=limit)
        return Response(
            {
                "offset": offset,
                "limit": limit,
                "size": len(jobs),
                "lastPage": last_page,
                "nextPageRequest": None if last_page else {"offset": offset + limit, "limit": limit},
                "values": [job_to_dict(job) for job in jobs],
            }
        )


class ExportPathApi(APIView):
    """``config/export-path``: GET shows the root, PUT sets a custom one, DELETE resets to the default."""

    audit_actions = {"PUT": "export_path.set", "DELETE": "export_path.reset"}

    class InputSerializer(StrictSerializer):
        path = serializers.CharField(trim_whitespace=False, max_length=4096)

        class Meta:
            ref_name = "ExportPathInput"

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ExportPath"

        rootExportPath = serializers.CharField()
        customPathSet = serializers.BooleanField()

    @staticmethod
    def _body() -> dict[str, Any]:
        root, custom = export_root()
        return {"rootExportPath": str(root), "customPathSet": custom}

    @extend_schema(
        operation_id="export_path_get", summary="The root export path", responses={200: OutputSerializer, **AUTH_ERRORS}
    )
    def get(self, request: Any) -> Response:
        return Response(self._body())

    @extend_schema(
        operation_id="export_path_set",
        summary="Set a custom root export path (absolute; a writable or creatable directory)",
        request=InputSerializer,
        responses={200: OutputSerializer, **AUTH_ERRORS},
    )
    def put(self, request: Any) -> Response:
        data = validated(self.InputSerializer, request.data)
        export_path_set(path=data["path"], user=request.user, via=Trigger.API)
        return Response(self._body())

    @extend_schema(
        operation_id="export_path_reset",
        summary="Go back to the default root export path",
        responses={200: OutputSerializer, **AUTH_ERRORS},
    )
    def delete(self, request: Any) -> Response:
        export_path_reset(user=request.user, via=Trigger.API)
        return Response(self._body())


class SchemaVersionsApi(APIView):
    """``config/schema``: the supported schema versions, newest first."""

    @extend_schema(
        operation_id="schema_versions",
        summary="Supported schema versions, newest first",
        responses={200: SchemaInfoSerializer(many=True), **AUTH_ERRORS},
    )
    def get(self, request: Any) -> Response:
        versions = sorted(VERSIONS, key=lambda v: v.version, reverse=True)
        return Response([{"version": v.version, "status": v.status} for v in versions])


class ScheduleApi(APIView):
    """``config/schedule`` (SPEC §7): GET the schedule with nextRunTime, PUT replaces it, DELETE removes it."""

    audit_actions = {"PUT": "schedule.set", "DELETE": "schedule.delete"}

    class InputSerializer(StrictSerializer):
        """Types only; the schedule service checks the values and names every bad field."""

        class Meta:
            ref_name = "ScheduleInput"

        days = serializers.ListField(
            child=serializers.CharField(max_length=10), max_length=7, help_text='Weekdays: "mon" … "sun".'
        )
        repeatIntervalInWeeks = serializers.IntegerField(help_text="Every N weeks, 1..52.")
        time = serializers.CharField(max_length=8, help_text="HH:mm:ss in the server time zone.")
        fromDate = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=100, help_text="ISO 8601 with an offset."
        )
        schemaVersion = serializers.IntegerField(required=False, allow_null=True)
        enabled = serializers.BooleanField(required=False, default=True)
        rollingWindowDays = serializers.IntegerField(required=False, allow_null=True)
        rollingWindowMonths = serializers.IntegerField(required=False, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Schedule"

        days = serializers.ListField(child=serializers.CharField())
        repeatIntervalInWeeks = serializers.IntegerField()
        time = serializers.CharField()
        fromDate = serializers.DateTimeField(allow_null=True)
        schemaVersion = serializers.IntegerField(allow_null=True)
        nextRunTime = serializers.DateTimeField(allow_null=True)
        enabled = serializers.BooleanField()
        rollingWindowDays = serializers.IntegerField(allow_null=True)
        rollingWindowMonths = serializers.IntegerField(allow_null=True)
        firstRunTime = serializers.DateTimeField(allow_null=True)
        timeZone = serializers.CharField()
        timeZoneWhenSaved = serializers.CharField()

    @extend_schema(
        operation_id="schedule_get",
        summary="The export schedule and its next run",
        responses={200: OutputSerializer, 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request: Any) -> Response:
        schedule = schedule_get()
        if schedule is None:
            raise NotFound("No export schedule is set.", key=KEY_SCHEDULE_NOT_FOUND)
        return Response(schedule_to_dict(schedule))

    @extend_schema(
        operation_id="schedule_set",
        summary="Set (replace) the export schedule",
        request=InputSerializer,
        responses={200: OutputSerializer, **AUTH_ERRORS},
    )
    def put(self, request: Any) -> Response:
        data = validated(self.InputSerializer, request.data)
        schedule = schedule_set(
            days=data["days"],
            repeat_interval_weeks=data["repeatIntervalInWeeks"],
            time=data["time"],
            from_date=data.get("fromDate") or None,
            rolling_window_days=data.get("rollingWindowDays"),
            rolling_window_months=data.get("rollingWindowMonths"),
            schema_version=data.get("schemaVersion"),
            enabled=data["enabled"],
            user=request.user,
            via=Trigger.API,
        )
        return Response(schedule_to_dict(schedule))

    @extend_schema(
        operation_id="schedule_delete",
        summary="Remove the export schedule",
        responses={204: None, **AUTH_ERRORS},
    )
    def delete(self, request: Any) -> Response:
        schedule_delete(user=request.user, via=Trigger.API)
        return Response(status=status.HTTP_204_NO_CONTENT)
