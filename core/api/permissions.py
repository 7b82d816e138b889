from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.models import ApiToken


class HasTokenScope(BasePermission):
    """Any valid token reads; only a ``write`` token changes anything."""

    message = "This API token is read-only; writing needs a token with the write scope."

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return False
        return request.method in SAFE_METHODS or token.can_write
