"""Errors a user can act on. Each carries compatible ``{key, message}`` entries.

Every interface maps them the same way: the REST API to its error body and status code,
the admin to a message, the commands to a CommandError.
"""

from __future__ import annotations

from typing import Any

# Keys used by Atlassian's Data pipeline, plus our own for input problems.
KEY_SCHEMA_DEPRECATED = "export.schema.version.deprecated"
KEY_SCHEMA_MISSING = "export.schema.version.missing"
KEY_PRE_VALIDATION_FAILED = "export.pre.validation.failed"
KEY_UNEXPECTED = "unexpected.exception"
KEY_FROM_DATE_INVALID = "export.from.date.invalid"
KEY_ALREADY_RUNNING = "export.already.running"
KEY_EXPORT_PATH_INVALID = "export.path.invalid"
KEY_OPTOUT_LIMIT = "optout.count.limit.exceeded"
KEY_OPTOUT_NOT_FOUND = "optout.key.not.found"
KEY_OPTOUT_TYPE = "optout.type.invalid"
KEY_JOB_NOT_FOUND = "export.job.not.found"
KEY_JOB_FINISHED = "export.job.already.finished"
KEY_DISK_SPACE = "export.disk.space.insufficient"


def entry(key: str, message: str) -> dict[str, str]:
    return {"key": key, "message": message}


class PipelineError(Exception):
    """A refused request: nothing was changed. ``status_code`` is what the REST API answers."""

    status_code = 400

    def __init__(self, message: str, *, key: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.errors = errors if errors is not None else [entry(key, message)]

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors}


class InvalidParameter(PipelineError):
    status_code = 400


class Conflict(PipelineError):
    """The request clashes with the current state (an export runs, a job already finished)."""

    status_code = 409


class ExportAlreadyRunning(Conflict):
    def __init__(self, job: Any):
        super().__init__(
            f"Export {job.pk} is already running (status {job.status}); only one export can run at a time.",
            key=KEY_ALREADY_RUNNING,
        )
        self.job = job


class NotFound(PipelineError):
    status_code = 404
