"""The second step of a password sign-in, kept in the session between ``/login/`` and ``/login/verify/``.

``cockpit.views.LoginView`` does not sign a user with a second factor in: it calls :func:`pending_start` with the
user the password named, the backend that authenticated them and where to go afterwards. Nothing is signed in
until a code is accepted (``mfa.views.verify``); the pending step expires after ``PENDING_SECONDS``.
"""

import time

from django.contrib.auth import get_user_model

from mfa.selectors import has_mfa

PENDING_KEY = "_mfa_pending"
PENDING_SECONDS = 5 * 60


def needs_second_step(user) -> bool:
    """Whether a password sign-in of ``user`` waits for a code: they have a confirmed authenticator app."""
    return has_mfa(user=user)


def pending_start(request, *, user, backend: str, next_url: str) -> None:
    request.session[PENDING_KEY] = {"user": user.pk, "backend": backend, "at": time.time(), "next": next_url}


def pending_clear(request) -> None:
    request.session.pop(PENDING_KEY, None)


def pending(request):
    """``(user, backend, next_url)`` of the session's pending sign-in, ``"expired"`` when it is older than
    ``PENDING_SECONDS`` (it is cleared), or None when there is none (or its user is gone or inactive)."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("at") or 0) > PENDING_SECONDS:
        pending_clear(request)
        return "expired"
    user = get_user_model()._default_manager.filter(pk=data.get("user"), is_active=True).first()
    if user is None:
        pending_clear(request)
        return None
    return user, data.get("backend") or "", data.get("next") or ""
