"""One error shape for every API error::

    {"status": 409, "code": "illegal_transition", "detail": "…", "fields": {"employee": ["…"]}}

``fields`` names the inputs at fault (empty when none is).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError


def error_body(*, status_code: int, code: str, detail: str, fields: dict | None = None) -> dict:
    return {"status": status_code, "code": code, "detail": detail, "fields": fields or {}}


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
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), None)
        detail = f"{first[0]}: {first[1][0]}" if first and first[0] != "non_field_errors" else (
            first[1][0] if first else "Invalid input."
        )
        response.data = error_body(status_code=400, code="invalid", detail=detail, fields=fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(status_code=response.status_code, code=str(code), detail=str(detail))
    return response

