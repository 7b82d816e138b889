"""One error shape for every API error::

    {"status": 409, "code": "illegal_transition", "detail": "…", "fields": {"employee": ["…"]}}

``fields`` names the inputs at fault (empty when none is).

The database gone in the middle of a request (PostgreSQL restarted, a connection cut, SQLite's disk full) is a 503
``unavailable`` with ``Retry-After``, not a 500: the request's transaction was rolled back by the database, so
nothing was half-written, and the next request connects again (``CONN_HEALTH_CHECKS``; a broken connection is also
dropped here at once). The cockpit's error page answers the same (``cockpit.views.server_error``).
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def error_body(*, status_code: int, code: str, detail: str, fields: dict | None = None) -> dict:
    return {"status": status_code, "code": code, "detail": detail, "fields": fields or {}}


def database_unavailable(exc: BaseException | None) -> bool:
    """The request failed because the database could not be reached or dropped the connection."""
    return isinstance(exc, DATABASE_DOWN)


def database_unavailable_body() -> dict:
    """The 503 of a request the database failed; logs it and drops the broken connections so the next request
    connects again (outside a transaction only: inside one, Django drops it itself when the rollback fails)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
            connection.close()
    return error_body(status_code=503, code="unavailable", detail=gettext(
        "The database is unavailable right now; nothing was changed. Try again in a moment."))


def validation_error_body(detail) -> dict:
    """The 400 answer for invalid input (``detail`` as a ``ValidationError`` carries it: ``{"file": ["…"]}``); also
    the result of a job that fails as the synchronous call would have (``core.jobs``)."""
    fields = _flatten(detail)
    first = next(iter(fields.items()), None)
    message = f"{first[0]}: {first[1][0]}" if first and first[0] != "non_field_errors" else (
        first[1][0] if first else gettext("Invalid input.")
    )
    return error_body(status_code=400, code="invalid", detail=message, fields=fields)


def _flatten(detail) -> dict:
    """DRF's nested error detail as ``{"field": ["message", …]}`` with dotted paths for nesting."""
    out: dict[str, list[str]] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            if all(not isinstance(v, (dict, list)) for v in value):
                out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in value)
            else:
                for index, sub in enumerate(value):
                    walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            out.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return out


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        return Response(error_body(status_code=exc.status, code=exc.code, detail=exc.message, fields=fields),
                        status=exc.status)
    if database_unavailable(exc):
        logger.error("Database unavailable during %s: %s", context["request"].path if context.get("request") else "?",
                     exc)
        return Response(database_unavailable_body(), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, RequestDataTooBig):  # a body without Content-Length that grew past the limit
        return Response(error_body(status_code=413, code="too_large", detail=str(exc)), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(status_code=response.status_code, code=str(code), detail=str(detail))
    return response

