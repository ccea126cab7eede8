"""REST views for exports under /rest/datapipeline/: start, status, cancel, history, export path, schema versions.

Each view validates its input, calls one service or selector and serializes the answer; errors
become the compatible error body in ``datapipeline.api_errors``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from datapipeline.api_base import (
    MAX_DB_INT,
    ErrorEntrySerializer,
    ErrorSerializer,
    GivenBooleanField,
    GivenCharField,
    GivenIntegerField,
    StrictSerializer,
    body_or_empty,
    integer_parameter,
    operation,
    or_empty_object,
    validated,
)
from datapipeline.api_errors import error_body
from datapipeline.errors import Conflict
from datapipeline.paths import export_root
from datapipeline.schema import VERSIONS, version_info
from datapipeline.schema_reference import describe_datasets

from .api_fields import (
    SCHEMA_VERSION_VALUES,
    AbsolutePathField,
    DateTimeTextField,
    SchemaVersionField,
    TimeOfDayField,
    WeekdaysField,
    any_case,
    any_case_text,
    bounded_integer,
)
from .configuration import export_path_reset, export_path_set
from .inputs import (
    ACCEPTED_DAYS,
    EXPORT_FORMATS,
    EXPORT_MODES,
    MAX_ROLLING_DAYS,
    MAX_ROLLING_MONTHS,
    MAX_WEEKS,
    MIN_WEEKS,
    parse_schema_version,
)
from .jobs import export_cancel
from .models import JobStatus, Trigger
from .schedules import (
    schedule_delete,
    schedule_get,
    schedule_set,
    schedule_to_dict,
)
from .selectors import job_current_or_last, job_list, job_to_dict
from .services import export_start

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_OFFSET = 2**31 - 1
JOB_ID_HELP = "A job id (1 or more); default the latest. Given empty, it is refused."
LIMIT_HELP = f"Page size, 1..{MAX_PAGE_SIZE}; default {DEFAULT_PAGE_SIZE}."
STATUS_SUMMARY = "The running export, else the last one; an empty object before any export ran"
SCHEDULE_SUMMARY = "The export schedule and its next run; an empty object when none is set"
PATH_SET_SUMMARY = "Set a custom root export path (absolute; a writable or creatable directory)"
# The schedule's JSON names and the arguments of ``schedule_set`` (``exports.inputs.parse_schedule``).
SCHEDULE_ARGUMENTS = {
    "days": "days",
    "repeatIntervalInWeeks": "repeat_interval_weeks",
    "time": "time",
    "fromDate": "from_date",
    "rollingWindowDays": "rolling_window_days",
    "rollingWindowMonths": "rolling_window_months",
    "schemaVersion": "schema_version",
    "format": "file_format",
    "enabled": "enabled",
    "mode": "mode",
}


class SchemaInfoSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """The compatible job body (``exports.selectors.job_to_dict``); documents the answers."""

    class ConfigSerializer(serializers.Serializer):
        exportFrom = serializers.DateTimeField()
        forcedExport = serializers.BooleanField()
        sinceJobId = serializers.IntegerField(allow_null=True, help_text="INCREMENTAL: the base job.")
        changesSince = serializers.DateTimeField(allow_null=True, help_text="INCREMENTAL: changes counted from.")
        format = serializers.ChoiceField(choices=EXPORT_FORMATS)
        reconcile = serializers.BooleanField(help_text="INCREMENTAL: the base chain's keys are reconciled.")

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
    mode = serializers.ChoiceField(choices=["FULL", "INCREMENTAL"])
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

        # Given empty, a parameter is refused rather than read as absent.
        fromDate = GivenCharField(required=False, max_length=100, trim_whitespace=False)
        forceExport = GivenBooleanField(required=False, default=False)
        schemaVersion = GivenCharField(required=False, max_length=20, trim_whitespace=False)
        mode = GivenCharField(required=False, max_length=20, trim_whitespace=False)
        format = GivenCharField(required=False, max_length=20, trim_whitespace=False)

    class CancelInputSerializer(StrictSerializer):
        class Meta:
            ref_name = "ExportCancelQuery"

        jobId = GivenIntegerField(required=False, min_value=1, max_value=MAX_DB_INT)

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

    @operation(
        operation_id="export_start",
        summary="Start an export",
        parameters=[
            OpenApiParameter(
                "fromDate",
                OpenApiTypes.DATETIME,
                description=(
                    "ISO 8601 with an offset, not in the future; truncated to the minute (the job's warnings say "
                    "so); default now - 365 days."
                ),
            ),
            OpenApiParameter(
                "forceExport", OpenApiTypes.BOOL, description="Turn pre-validation failures into warnings."
            ),
            OpenApiParameter(
                "schemaVersion",
                {"type": "integer", "enum": SCHEMA_VERSION_VALUES},
                description="A supported schema version; default the current one.",
            ),
            OpenApiParameter(
                "mode",
                any_case(EXPORT_MODES),
                description=(
                    "FULL (default): every row after fromDate. INCREMENTAL: the rows created or changed since the "
                    "last completed export of the same schema version, plus a file of deleted keys per dataset "
                    "(no such export: it runs as a full one and says so). Case-insensitive."
                ),
            ),
            OpenApiParameter(
                "format",
                any_case(EXPORT_FORMATS),
                description="The files' format, in any case: csv (the default) or parquet.",
            ),
        ],
        request=None,
        responses={202: JobSerializer, 409: JobErrorSerializer, 422: JobErrorSerializer},
    )
    def post(self, request: Any) -> Response:
        params = validated(self.StartInputSerializer, request.query_params)
        job = export_start(
            from_date=params.get("fromDate") or None,
            schema_version=params.get("schemaVersion") or None,
            file_format=params.get("format") or None,
            force_export=params["forceExport"],
            mode=params.get("mode"),
            trigger=Trigger.API,
            user=request.user,
        )
        body = job_to_dict(job)
        if job.status == JobStatus.FAILED:
            message = f"Export {job.pk} failed its pre-validation and did not run; see errors (forceExport overrides)."
            return Response({**body, **error_body(422, message, job.errors)}, status=422)
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @operation("export_status", STATUS_SUMMARY, {200: or_empty_object("JobOrNothing", JobSerializer)})
    def get(self, request: Any) -> Response:
        return body_or_empty(job_current_or_last(), job_to_dict)

    @operation(
        operation_id="export_cancel",
        summary="Cancel the latest export, or the one given by jobId",
        parameters=[integer_parameter("jobId", 1, MAX_DB_INT, JOB_ID_HELP)],
        responses={200: CancelOutputSerializer, 409: CancelWarningSerializer},
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
        offset = GivenIntegerField(required=False, default=0, min_value=0, max_value=MAX_OFFSET)
        limit = GivenIntegerField(required=False, default=DEFAULT_PAGE_SIZE, min_value=1, max_value=MAX_PAGE_SIZE)

    @operation(
        operation_id="export_history",
        summary="Export history, newest first",
        parameters=[
            integer_parameter("offset", 0, MAX_OFFSET, "Jobs to skip (0 or more); default 0."),
            integer_parameter("limit", 1, MAX_PAGE_SIZE, LIMIT_HELP),
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
        path = AbsolutePathField(max_length=4096, help_text="An absolute path of a directory the server can write.")

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

    @operation(operation_id="export_path_get", summary="The root export path", responses={200: OutputSerializer})
    def get(self, request: Any) -> Response:
        return Response(self._body())

    @operation("export_path_set", PATH_SET_SUMMARY, {200: OutputSerializer}, request=InputSerializer)
    def put(self, request: Any) -> Response:
        data = validated(self.InputSerializer, request.data)
        export_path_set(path=data["path"], user=request.user, via=Trigger.API)
        return Response(self._body())

    @operation("export_path_reset", "Go back to the default root export path", {200: OutputSerializer})
    def delete(self, request: Any) -> Response:
        export_path_reset(user=request.user, via=Trigger.API)
        return Response(self._body())


class SchemaVersionsApi(APIView):
    """``config/schema``: the supported schema versions, newest first."""

    @operation(
        operation_id="schema_versions",
        summary="Supported schema versions, newest first",
        responses={200: SchemaInfoSerializer(many=True)},
    )
    def get(self, request: Any) -> Response:
        versions = sorted(VERSIONS, key=lambda v: v.version, reverse=True)
        return Response([{"version": v.version, "status": v.status} for v in versions])


class SchemaDatasetsApi(APIView):
    """``config/schema/<version>``: the files that version writes, their keys and columns (the dataset registry)."""

    class ColumnSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SchemaColumn"

        name = serializers.CharField()
        type = serializers.CharField(help_text="The type as the schema reference shows it.")
        logicalType = serializers.CharField(help_text="int64, timestamp_us_utc, boolean, string or list<string>.")
        description = serializers.CharField()
        since = serializers.IntegerField()

    class DatasetSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SchemaDataset"

        name = serializers.CharField(help_text="The dataset, also its files' name prefix.")
        description = serializers.CharField()
        rows = serializers.CharField(help_text="Which rows the file holds.")
        key = serializers.CharField(help_text="The column that identifies a row.")
        dateField = serializers.CharField(allow_null=True, help_text="What fromDate filters on; null: every row.")
        optOutScope = serializers.CharField(allow_null=True, help_text="The opt-out type that leaves rows out.")
        columns = serializers.ListField(child=serializers.DictField())

    class OutputSerializer(SchemaInfoSerializer):
        class Meta:
            ref_name = "SchemaDatasets"

        datasets = serializers.ListField(child=serializers.DictField())

    @operation(
        operation_id="schema_datasets",
        summary="The files of one schema version, their keys and columns",
        parameters=[
            OpenApiParameter("version", str, OpenApiParameter.PATH, enum=[str(v) for v in SCHEMA_VERSION_VALUES])
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: Any, version: str) -> Response:
        number = parse_schema_version(version)
        info = version_info(number)
        status_text = info.status if info else ""
        return Response({"version": number, "status": status_text, "datasets": describe_datasets(number)})


class ScheduleApi(APIView):
    """``config/schedule``: GET the schedule with nextRunTime, PUT replaces it, DELETE removes it."""

    audit_actions = {"PUT": "schedule.set", "DELETE": "schedule.delete"}

    class InputSerializer(StrictSerializer):
        """Types only; the schedule service checks the values and names every bad field."""

        class Meta:
            ref_name = "ScheduleInput"

        days = WeekdaysField(help_text=f"Weekdays, at least one: {ACCEPTED_DAYS}.")
        repeatIntervalInWeeks = bounded_integer(MIN_WEEKS, MAX_WEEKS)(help_text="Every N weeks from the first run.")
        time = TimeOfDayField(help_text="HH:mm or HH:mm:ss (24-hour) in the server time zone; answered HH:mm:ss.")
        fromDate = DateTimeTextField(
            required=False,
            allow_null=True,
            max_length=100,
            help_text="ISO 8601 with an offset, not in the future; give it or one rolling window, not several.",
        )
        schemaVersion = SchemaVersionField(required=False, allow_null=True)
        format = any_case_text(EXPORT_FORMATS, allow_empty=True)(
            required=False,
            allow_null=True,
            allow_blank=True,
            max_length=20,
            help_text="The files' format of each run, in any case: csv (the default) or parquet.",
        )
        enabled = serializers.BooleanField(required=False, default=True)
        rollingWindowDays = bounded_integer(1, MAX_ROLLING_DAYS)(required=False, allow_null=True)
        rollingWindowMonths = bounded_integer(1, MAX_ROLLING_MONTHS)(required=False, allow_null=True)
        mode = any_case_text(EXPORT_MODES)(
            required=False, allow_null=True, max_length=20, help_text="FULL (default) or INCREMENTAL, any case."
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Schedule"

        days = serializers.ListField(child=serializers.CharField())
        repeatIntervalInWeeks = serializers.IntegerField()
        time = serializers.CharField()
        fromDate = serializers.DateTimeField(allow_null=True)
        schemaVersion = serializers.IntegerField(allow_null=True)
        format = serializers.ChoiceField(choices=EXPORT_FORMATS)
        nextRunTime = serializers.DateTimeField(allow_null=True)
        enabled = serializers.BooleanField()
        rollingWindowDays = serializers.IntegerField(allow_null=True)
        rollingWindowMonths = serializers.IntegerField(allow_null=True)
        firstRunTime = serializers.DateTimeField(allow_null=True)
        timeZone = serializers.CharField()
        timeZoneWhenSaved = serializers.CharField()
        mode = serializers.CharField()

    @operation("schedule_get", SCHEDULE_SUMMARY, {200: or_empty_object("ScheduleOrNothing", OutputSerializer)})
    def get(self, request: Any) -> Response:
        return body_or_empty(schedule_get(), schedule_to_dict)

    @operation("schedule_set", "Set (replace) the export schedule", {202: None}, request=InputSerializer)
    def put(self, request: Any) -> Response:
        data = validated(self.InputSerializer, request.data)
        fields = {argument: data.get(name) for name, argument in SCHEDULE_ARGUMENTS.items()}
        schedule_set(**fields, user=request.user, via=Trigger.API)
        return Response(status=status.HTTP_202_ACCEPTED)

    @operation("schedule_delete", "Remove the export schedule", {200: None})
    def delete(self, request: Any) -> Response:
        schedule_delete(user=request.user, via=Trigger.API)
        return Response(status=status.HTTP_200_OK)
