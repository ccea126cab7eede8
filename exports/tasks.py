"""The django-q2 task: thin, it runs the job whose id it was given."""

from datapipeline.runner import run_export


def run_export_task(job_id: int) -> str:
    job = run_export(job_id)
    return f"Export {job_id}: {job.status}"
