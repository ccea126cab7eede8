"""The REST API's one error body: ``{statusCode, message, errors: [{key, message}], timestamp}``.

Every refusal (bad input, missing or bad credentials, a conflict) goes through
``exception_handler``; refused writes are also recorded in the audit log.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response

from exports.audit import audit_record, audit_refused_anonymous
from exports.selectors import job_to_dict

from .errors import PipelineError, entry
from .isotime import iso_utc
from .parsers import RequestBodyTooLarge, body_size_limit, too_large_message

logger = logging.getLogger(__name__)

KEY_NOT_AUTHENTICATED = "authentication.required"
KEY_AUTHENTICATION_FAILED = "authentication.failed"
KEY_PERMISSION_DENIED = "permission.denied"
KEY_NOT_FOUND = "resource.not.found"
KEY_METHOD_NOT_ALLOWED = "method.not.allowed"
KEY_MEDIA_TYPE = "request.media.type.unsupported"
KEY_NOT_ACCEPTABLE = "request.not.acceptable"
KEY_MALFORMED = "request.body.malformed"
KEY_INVALID = "request.invalid"
KEY_THROTTLED = "request.throttled"
KEY_TOO_LARGE = "request.body.too.large"

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_body(status_code: int, message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "message": message,
        "errors": errors if errors is not None else [],
        "timestamp": iso_utc(timezone.now(), timespec="milliseconds"),
    }


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(field, message) pairs from a DRF ValidationError detail, nested fields joined by dots."""
    if isinstance(detail, dict):
        pairs = []
        for field, value in detail.items():
            name = field if field != "non_field_errors" else ""
            pairs.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return pairs
    if isinstance(detail, list):
        pairs = []
        for index, value in enumerate(detail):
            # A list of messages belongs to the field; a list of dicts/lists is per item.
            sub = f"{prefix}[{index}]" if isinstance(value, dict | list) else prefix
            pairs.extend(_flatten(value, sub))
        return pairs
    return [(prefix, str(detail))]


def _validation_errors(exc: exceptions.ValidationError) -> tuple[str, list[dict[str, str]]]:
    pairs = _flatten(exc.detail)
    errors = [entry(KEY_INVALID, f"{field}: {message}" if field else message) for field, message in pairs]
    summary = "; ".join(e["message"] for e in errors) or "The request is invalid."
    return f"Invalid request: {summary}", errors


def _describe(exc: Exception) -> tuple[int, str, list[dict[str, str]]] | None:
    """Status, message and error entries for a known exception; None for an unexpected one."""
    if isinstance(exc, PipelineError):
        return exc.status_code, exc.message, exc.errors
    if isinstance(exc, Http404):
        message = "Not found."
        return 404, message, [entry(KEY_NOT_FOUND, message)]
    if isinstance(exc, DjangoPermissionDenied):
        return 403, "Insufficient permissions", [entry(KEY_PERMISSION_DENIED, "Insufficient permissions")]
    if isinstance(exc, exceptions.ValidationError):
        message, errors = _validation_errors(exc)
        return 400, message, errors
    if isinstance(exc, RequestDataTooBig):  # Django's own check, when the body was read before parsing
        exc = RequestBodyTooLarge(too_large_message(body_size_limit() or 0))
    simple = (
        (exceptions.ParseError, KEY_MALFORMED, "Malformed request body: {}"),
        (RequestBodyTooLarge, KEY_TOO_LARGE, "{}"),
        (exceptions.AuthenticationFailed, KEY_AUTHENTICATION_FAILED, "{}"),
        (
            exceptions.NotAuthenticated,
            KEY_NOT_AUTHENTICATED,
            "Authentication required: send 'Authorization: Bearer <token>' or log in as an administrator.",
        ),
        (exceptions.PermissionDenied, KEY_PERMISSION_DENIED, "{}"),
        (exceptions.NotFound, KEY_NOT_FOUND, "{}"),
        (exceptions.MethodNotAllowed, KEY_METHOD_NOT_ALLOWED, "{}"),
        (exceptions.UnsupportedMediaType, KEY_MEDIA_TYPE, "{} Send application/json."),
        (exceptions.NotAcceptable, KEY_NOT_ACCEPTABLE, "{}"),
        (exceptions.Throttled, KEY_THROTTLED, "{}"),
    )
    for cls, key, template in simple:
        if isinstance(exc, cls):
            message = template.format(exc.detail) if "{}" in template else template
            return exc.status_code, message, [entry(key, message)]
    if isinstance(exc, exceptions.APIException):
        message = str(exc.detail)
        return exc.status_code, message, [entry(KEY_INVALID, message)]
    return None


def _audit_refusal(context: dict[str, Any], status_code: int, message: str) -> None:
    """Refused writes of signed-in users get a row each; anonymous ones a counting row per address per minute."""
    request = context.get("request")
    if request is None or request.method not in WRITE_METHODS:
        return
    view = context.get("view")
    action = (getattr(view, "audit_actions", None) or {}).get(request.method) or f"api.{request.method.lower()}"
    user = getattr(request, "_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        # refused before DRF authenticated (e.g. CSRF): the session's user, if any
        django_request = getattr(request, "_request", None)
        session_user = get_user(django_request) if hasattr(django_request, "session") else None
        user = session_user if getattr(session_user, "is_authenticated", False) else None
    details = {
        "statusCode": status_code,
        "reason": message,
        "path": request.path,
        "query": request.META.get("QUERY_STRING", ""),
    }
    try:
        if user is None:
            address = request.META.get("REMOTE_ADDR") or "unknown"
            logger.info("Refused anonymous %s %s from %s: %s", request.method, request.path[:200], address, status_code)
            audit_refused_anonymous(action=action, address=address, **details)
        else:
            audit_record(action=action, user=user, via="api", outcome="refused", **details)
    except Exception:  # the refusal itself must still be answered
        logger.exception("Could not record a refused request in the audit log")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer ``exc`` with the compatible error body; unexpected errors become a logged 500 body."""
    described = _describe(exc)
    if described is None:
        logger.exception("Unexpected error in the Data pipeline API", exc_info=exc)
        message = "An unexpected error occurred; the server log has the details."
        return Response(error_body(500, message, [entry("unexpected.exception", message)]), status=500)
    status_code, message, errors = described
    body = error_body(status_code, message, errors)
    job = getattr(exc, "job", None)
    if job is not None:
        # 409 on start: the running job's body, plus the error fields.
        body = {**job_to_dict(job), **body}
    body.update(getattr(exc, "body_extra", None) or {})
    if status_code != status.HTTP_500_INTERNAL_SERVER_ERROR:
        _audit_refusal(context, status_code, message)
    headers = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
    return Response(body, status=status_code, headers=headers)
