from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from core.models import ApiToken
from core.selectors import api_token_for_key

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenUser:
    """What ``request.user`` is for a token request: authenticated, but not a cockpit user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self):
        return str(self.token)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``; the key's SHA-256 finds an unrevoked token of one organization."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header: use “Bearer <token>”.")
        token = api_token_for_key(parts[1].decode("latin-1"))
        if token is None:
            raise AuthenticationFailed("Invalid or revoked API token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            # At most one write a minute per token, so a busy integration does not write on every read.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return ApiTokenUser(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token in the OpenAPI schema (and the docs' “Authorize” button)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token of one organization."}
