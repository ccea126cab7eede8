"""Reproducible demo data for the site: scales, row generators and the services that load them."""

from .generate import DemoPlan
from .load import TableLoad, site_build, site_counts, site_delete
from .scale import SCALES, DemoScale, scale_parse

__all__ = [
    "SCALES",
    "DemoPlan",
    "DemoScale",
    "TableLoad",
    "scale_parse",
    "site_build",
    "site_counts",
    "site_delete",
]
