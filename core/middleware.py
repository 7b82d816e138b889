import uuid

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils import translation

from core import languages
from core.actors import current_request_id
from core.auth import SESSION_SSO_ORGANIZATION
from core.selectors import memberships_of

__all__ = [
    "ApiBodyLimitMiddleware", "OrganizationMiddleware", "RequestIdMiddleware", "UserLanguageMiddleware",
    "current_request_id", "session_memberships",
]


class RequestIdMiddleware:
    """Tags each request with an id (kept from ``X-Request-ID`` when a proxy set one) for audit entries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")[:64]
        request.id = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex
        token = current_request_id.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request.id
        return response


def session_memberships(request) -> list:
    """The signed-in user's memberships this session may use: all of them, or, for a session started by an
    organization's identity provider (``core.auth.SESSION_SSO_ORGANIZATION``), that organization's only."""
    memberships = memberships_of(user=request.user)
    pinned = request.session.get(SESSION_SSO_ORGANIZATION) if hasattr(request, "session") else None
    if pinned is None:
        return memberships
    return [m for m in memberships if m.organization_id == pinned]


class OrganizationMiddleware:
    """Resolves ``/o/<org_slug>/`` once per request into ``request.organization`` and ``request.membership``.

    A user who is not a member of the organization gets a 404, exactly as if it did not exist. A session started
    by single sign-on is pinned to its organization: another organization is a 404 there too, even for one of
    the user's own, and the organization switcher lists that one only (``session_memberships``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = None
        request.membership = None
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("org_slug")
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect(f"/login/?next={request.path}")
        # All of the user's memberships in one query: the page's organization switcher lists them anyway
        # (cockpit.context_processors reuses them), so the one of this URL costs no query of its own.
        memberships = session_memberships(request)
        membership = next((m for m in memberships if m.organization.slug == slug), None)
        if membership is None:
            raise Http404("No such organization")
        request.membership = membership
        request.organization = membership.organization
        request.user_memberships = memberships
        return None


class ApiBodyLimitMiddleware:
    """A JSON body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` sent to the API is refused with 413 in the API's one
    error shape, from its ``Content-Length``, before anything reads it (Django would answer an HTML 400 once a
    reader reached the limit). File uploads (multipart) keep their own, larger limits."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path.startswith("/api/") and not request.content_type.startswith(
                "multipart/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return JsonResponse({
                    "status": 413, "code": "too_large",
                    "detail": f"The request body is {length:,} bytes; the API takes at most {limit:,}.",
                    "fields": {},
                }, status=413)
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in user's language preference beats the switcher's cookie and the browser (after
    ``AuthenticationMiddleware``, inside ``LocaleMiddleware``, whose answer stands when the user chose none).

    The preference is read once per session (``core.languages.SESSION_KEY``; saving it updates the session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = self._preference(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)

    @staticmethod
    def _preference(request) -> str:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return ""
        if languages.SESSION_KEY not in request.session:
            request.session[languages.SESSION_KEY] = languages.user_preferred_language(user)
        return languages.supported(request.session[languages.SESSION_KEY]) or ""
