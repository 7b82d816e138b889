"""The SCIM 2.0 endpoint at ``/scim/v2/``: Django's request in, scim2-server's handler, Django's response out.

The organization is the token's (``Authorization: Bearer <key>``, an API token of the organization, checked as the
REST API checks it). Any valid token reads; writing needs a token of the ``write`` scope. ``/ServiceProviderConfig``
answers without a token (RFC 7644 §4). Every error, authentication included, is a SCIM error body
(``urn:ietf:params:scim:api:messages:2.0:Error``) in ``application/scim+json``.
"""

import json
import logging
from functools import cache

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed
from scim2_models import (
    Context,
    ForbiddenException,
    MutabilityException,
    PatchOperation,
    PayloadTooLargeException,
    SCIMException,
    UnauthorizedException,
)
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.routing import Operation
from scim2_server.service import ScimService

from core.actors import Actor
from core.api.authentication import BearerTokenAuthentication
from scim.schema import provider
from scim.storage import CockpitStorage

logger = logging.getLogger(__name__)

READS = {Operation.query, Operation.search, Operation.search_with_body, Operation.service_provider_config,
         Operation.resource_types, Operation.resource_type, Operation.schemas, Operation.schema}


def _without_null_selectors(body: bytes) -> bytes:
    """Entra ID removes a member with ``{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "…"}]}``:
    its null ``$ref`` means "any", not "absent" (which a stored member's ``$ref`` never is)."""
    try:
        payload = json.loads(body)
        operations = payload.get("Operations") or []
    except (ValueError, AttributeError):
        return body  # the service refuses it with its own error
    changed = False
    for operation in operations:
        if not isinstance(operation, dict) or str(operation.get("op", "")).lower() != "remove":
            continue
        value = operation.get("value")
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                for key in [key for key, item in entry.items() if item is None]:
                    del entry[key]
                    changed = True
    return json.dumps(payload).encode() if changed else body


class CockpitScimService(ScimService):
    def read_patch(self, resource_type, body, content_type):
        return super().read_patch(resource_type, _without_null_selectors(body), content_type)

    def apply_patch(self, current, patch_op, conditions):
        """``remove`` of ``active`` is refused: an employee is always active or not (set it to false instead)."""
        for operation in patch_op.operations or []:
            path = str(operation.path or "").lower().rsplit(":", 1)[-1]
            if operation.op == PatchOperation.Op.remove and path == "active":
                raise MutabilityException(detail=_("active cannot be removed; replace it with false to deactivate."))
        return super().apply_patch(current, patch_op, conditions)

    def patch_response(self, base_url, resource, response_parameters):
        """200 with the resource, never 204: Okta reads the user back from the answer to its PATCH."""
        return self.resource_response(self.publish(base_url, resource), Context.RESOURCE_REPLACEMENT_RESPONSE,
                                      response_parameters)


@cache
def scim_service() -> ScimService:
    return CockpitScimService(provider())


def _token(request):
    try:
        authenticated = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        raise UnauthorizedException(detail=str(exc.detail)) from exc
    if authenticated is None:
        raise UnauthorizedException(detail=_("Send an API token of the organization: “Authorization: Bearer <token>”."))
    return authenticated[1]


def _scim_request(request, scim_path: str) -> ScimRequest:
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLargeException(detail=_("The request body is too large.")) from exc
    return ScimRequest(
        method=request.method,
        base_url=request.build_absolute_uri(reverse("scim_root")).rstrip("/"),
        path="/" + scim_path,
        query={key: value for key, value in request.GET.items()},
        headers=dict(request.headers.items()),
        body=body,
    )


def _serve(request, scim_path: str):
    service = scim_service()
    scim_request = _scim_request(request, scim_path)
    operation = service.match(scim_request).operation  # an unknown path or method is refused before the token
    if operation is Operation.service_provider_config:
        return ScimHandler(service, CockpitStorage(organization=None, actor=None)).handle(scim_request)
    token = _token(request)
    writes = operation not in READS
    if writes and not token.can_write:
        raise ForbiddenException(
            detail=_("This API token is read-only; provisioning needs a token with the write scope."))
    storage = CockpitStorage(organization=token.organization, actor=Actor.for_token(token), lock=writes)
    return ScimHandler(service, storage).handle(scim_request)


@csrf_exempt
def scim_endpoint(request, scim_path: str = ""):
    service = scim_service()
    try:
        scim_response = _serve(request, scim_path)
    except Exception as exc:  # every failure answers in SCIM's error shape; only a bug is logged with its trace
        if not isinstance(exc, SCIMException):
            logger.exception("SCIM request %s %s failed", request.method, request.path)
        scim_response = service.error_response(exc)
    scim_response.headers.setdefault("Cache-Control", "no-cache")
    body = b"" if scim_response.body is None else json.dumps(scim_response.body).encode()
    response = HttpResponse(body, status=scim_response.status.value,
                            content_type=scim_response.headers.pop("Content-Type"))
    for name, value in scim_response.headers.items():
        response[name] = value
    return response
