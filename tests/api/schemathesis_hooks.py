"""Schemathesis hooks for the live run: which refusals of schema-valid requests are rules the document
cannot state.

Each tolerated refusal is the server applying a rule that depends on the clock, the database or the
filesystem, named by its error key (and message). Any other 4xx for a schema-valid request still fails
the run, as does every other check.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

# (error key, text the message contains): the rule, and why the document cannot state it.
RULES_OUTSIDE_THE_DOCUMENT = {
    ("export.from.date.invalid", "is in the future"),  # depends on the clock
    ("schedule.rolling.window.invalid", "not several"),  # fromDate or one rolling window: across fields
    ("optout.key.not.found", ""),  # which space keys exist is the database's
    ("optout.count.limit.exceeded", ""),  # depends on the list's size and a property
    ("export.path.invalid", ""),  # the filesystem decides (writable, a directory, not a system tree, ...)
}
# Refusals the document does state (the path's pattern): never tolerated.
STATED_IN_THE_DOCUMENT = ("must be absolute", "NUL characters", "non-empty string")


def _errors(response: Any) -> list[tuple[str, str]]:
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return []
    entries = body.get("errors") if isinstance(body, dict) else None
    return [(e.get("key", ""), e.get("message", "")) for e in entries or [] if isinstance(e, dict)]


def _outside_the_document(key: str, message: str) -> bool:
    if any(text in message for text in STATED_IN_THE_DOCUMENT):
        return False
    return any(key == rule and text in message for rule, text in RULES_OUTSIDE_THE_DOCUMENT)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a schema-valid request refused only by the rules above."""
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 400:
        return True
    errors = _errors(response)
    return not errors or not all(_outside_the_document(key, message) for key, message in errors)
