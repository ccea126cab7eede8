"""The Data pipeline screen in the Django admin (registered on ExportJob; superusers only)."""

from .admin_pipeline import ExportJobAdmin

__all__ = ["ExportJobAdmin"]
