"""The OpenAPI schema says what the API answers, errors included.

* Every error is one component, ``Error`` (``{status, code, detail, fields}``, see ``core.api.errors``), declared
  on each operation for the statuses it can answer: 400 for input (query string or body), 401/403 wherever a
  token is needed, 404 on routes naming an object, 409/413/415/503 on changes, 429 where a view is throttled.
* A strict serializer's request body refuses keys it does not know (``additionalProperties: false``): the
  schema says so, as ``StrictSerializer`` does.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny


class ErrorSerializer(serializers.Serializer):
    """Every API error: ``fields`` names the inputs at fault (empty when none is)."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated")
    code = serializers.CharField(help_text="A stable code: invalid, not_found, illegal_transition, conflict, …")
    detail = serializers.CharField(help_text="A sentence for a person")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Messages per input, dotted for nested ones (`devices.0.action`)")

    class Meta:
        ref_name = "Error"


ERRORS = {
    400: "Invalid input: a field, a query parameter (unknown ones are refused too) or the body; "
         "`fields` names them.",
    401: "No token, or an invalid or revoked one.",
    403: "This token may not do this (a read-only token asking for a change).",
    404: "No such object in this token's organization (or a page past the last one).",
    409: "The object's state does not allow this, or it changed meanwhile (`version`); nothing was done.",
    413: "The body is over the size limit; nothing was read.",
    415: "The body's content type is not one this operation reads.",
    429: "Too many requests; wait and try again.",
    503: "A service this needs (the job broker) is down; nothing was done, try again later.",
}


class CockpitAutoSchema(AutoSchema):
    """drf-spectacular's schema, with each operation's error answers in the one error shape."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for status in self.error_statuses(path, operation):
            operation["responses"].setdefault(str(status), {
                "description": ERRORS[status], "content": {"application/json": {"schema": error}},
            })
        return operation

    def error_statuses(self, path: str, operation: dict) -> list[int]:
        changes = self.method not in SAFE_METHODS
        query = {parameter["name"] for parameter in operation.get("parameters", ()) if parameter.get("in") == "query"}
        authenticated = bool(self.view.get_authenticators()) and not all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )
        statuses = {400} if changes or query or getattr(self.view, "filter_backends", None) else set()
        if authenticated:
            statuses |= {401, 403}
        if "{" in path or "page" in query:
            statuses.add(404)
        if changes:
            statuses |= {409, 413, 503}
        if "requestBody" in operation:
            statuses.add(415)
        if self.view.get_throttles():
            statuses.add(429)
        return sorted(statuses)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """A strict serializer's request body has ``additionalProperties: false``: unknown keys are a 400."""

    target_class = "core.api.base.StrictSerializer"  # by name: core.api.base uses this module's AutoSchema
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema

