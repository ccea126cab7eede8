"""Views of the Data pipeline admin screen (interfaces), one module per screen.

Each view reads its form, validates through the input layer (``exports.inputs``, via the
services), calls one service and renders; refused requests (``PipelineError``) become admin
error messages with the services' own wording.
"""

from .configuration import export_path_view, properties_view
from .jobs import export_start_view, job_cancel, job_details, pipeline_index, progress_json
from .optout import optout_view
from .schedule import schedule_view
from .tokens import token_revoke_view, tokens_view

__all__ = [
    "export_path_view",
    "export_start_view",
    "job_cancel",
    "job_details",
    "optout_view",
    "pipeline_index",
    "progress_json",
    "properties_view",
    "schedule_view",
    "token_revoke_view",
    "tokens_view",
]
