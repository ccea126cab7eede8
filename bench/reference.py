"""The reference's published export rates (Data pipeline for Confluence DC) and the targets over them."""

from __future__ import annotations

# entity -> (rows, seconds) as published: 100k users in 8 min, 15k spaces in 12 min, 25M pages in 12 h,
# 15M comments in 1 h, 20M analytics events in 2 h.
PUBLISHED = {
    "users": (100_000, 8 * 60),
    "spaces": (15_000, 12 * 60),
    "pages": (25_000_000, 12 * 3600),
    "comments": (15_000_000, 3600),
    "analytics": (20_000_000, 2 * 3600),
}
RATES = {name: rows / seconds for name, (rows, seconds) in PUBLISHED.items()}
UNTHROTTLED_TARGET = 50  # times the reference's rate, unthrottled
THROTTLED_TARGET = 5  # times the reference's rate, with the default throttle
COPY_RATIO_TARGET = 2.0  # the whole export within 2x PostgreSQL's own COPY
MEMORY_TARGET_MB = 150
LATENCY_RATIO_TARGET = 1.05  # median with a throttled export / median without
IDLE_THROTTLED_SHARE_TARGET = 0.8  # the default throttle on an idle site: this share of the unthrottled rate at least
