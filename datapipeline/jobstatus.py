"""The export job's states (core): the words the engine reports and the job row stores.

Only ``exports.jobs`` writes a job's status; everyone else reads these names instead of strings.
"""

from __future__ import annotations

from django.db import models


class JobStatus(models.TextChoices):
    STARTED = "STARTED"
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


ACTIVE_STATUSES = (JobStatus.STARTED, JobStatus.CANCELLATION_REQUESTED)
TERMINAL_STATUSES = (JobStatus.CANCELLED, JobStatus.COMPLETED, JobStatus.FAILED)
