"""An organization that requires a second factor of its owners and admins sends them to it before its pages."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.auth import SESSION_SSO_ORGANIZATION
from mfa.selectors import POLICY_ROLES, has_mfa, mfa_required


class MfaEnforcementMiddleware:
    """After ``core.middleware.OrganizationMiddleware`` (which sets ``request.membership``) and django-otp's
    ``OTPMiddleware`` (which tells whether the session confirmed a second factor, ``request.user.is_verified()``).

    On a page of an organization that requires it (``MfaPolicy.required_for_admins``), an owner or admin whose
    session confirmed no second factor is sent to enter a code (``/login/verify/``) when they have an authenticator
    app, or to set one up (``/account/security/``) when not, and comes back afterwards. Exempt: a session started by
    single sign-on (``core.auth.SESSION_SSO_ORGANIZATION``; the identity provider answers for the second factor),
    other roles, pages outside ``/o/<slug>/``, and the API (its tokens are no sign-in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        membership = getattr(request, "membership", None)
        if membership is None or membership.role not in POLICY_ROLES:
            return None
        if SESSION_SSO_ORGANIZATION in request.session:
            return None
        if not mfa_required(organization=membership.organization):
            return None
        user = request.user
        if getattr(user, "is_verified", None) and user.is_verified():
            return None
        query = urlencode({"next": request.get_full_path()})
        if has_mfa(user=user):
            return redirect(f"{reverse('mfa_verify')}?{query}")
        messages.warning(request, _("%(organization)s requires two-factor authentication of owners and admins: set "
                                    "it up to continue.") % {"organization": membership.organization.name})
        return redirect(f"{reverse('account_security')}?{query}")
