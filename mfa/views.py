"""Two-factor authentication's pages: the second step of a sign-in (``/login/verify/``), the user's own security
page (``/account/security/``: set up an authenticator app, recovery codes, turn it off), and the organization's
requirement with its owners' and admins' status (``/o/<slug>/settings/mfa/``)."""

from base64 import b32encode
from urllib.parse import quote

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from core.clients import client_address
from core.errors import DomainError
from core.models import Membership
from core.web import actor_for, call_service, require_role, run_action
from mfa import services
from mfa.forms import CodeForm, PolicyForm, TotpCodeForm
from mfa.selectors import (
    has_mfa,
    mfa_policy_for,
    organization_member,
    organizations_requiring_mfa,
    policy_members,
    recovery_codes_left,
    totp_device_of,
)
from mfa.sign_in import pending, pending_clear


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                              require_https=request.is_secure())
    return target if allowed else ""


def _form_error(form, exc: DomainError) -> int:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return 429 if exc.status == 429 else 400


# --- the sign-in's second step ------------------------------------------------------------------------------------


@never_cache
def verify(request):
    """A code for the pending password sign-in (``mfa.sign_in``), or for a signed-in session an organization asks
    to confirm its second factor (``mfa.middleware``). Wrong codes are counted per account (``mfa.services``)."""
    state = pending(request)
    if state == "expired":
        messages.error(request, _("The sign-in took too long: enter your password again."))
        return redirect("login")
    if state is not None:
        user, backend, next_url = state
    elif request.user.is_authenticated:
        user, backend, next_url = request.user, None, _safe_next(request)
        if request.user.is_verified() or not has_mfa(user=user):
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    else:
        return redirect("login")
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                verified = services.sign_in_verify(user=user, code=form.cleaned_data["code"],
                                                   address=client_address(request))
            except DomainError as exc:
                status = _form_error(form, exc)
            else:
                if backend is not None:
                    pending_clear(request)
                    auth_login(request, user, backend=backend)
                django_otp.login(request, verified.device)
                if verified.recovery_code:
                    left = recovery_codes_left(user=user)
                    messages.warning(request, _("You signed in with a recovery code; %(left)s left. Make new ones on "
                                                "your security page if you are running out.") % {"left": left})
                return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return render(request, "mfa/verify.html", {"form": form, "account": user.get_username(),
                                               "signed_in": backend is None, "next": next_url}, status=status)


# --- the user's security page -------------------------------------------------------------------------------------


def _qr_svg(device) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=4, title=_("QR code for your authenticator app"))


def _spaced_secret(device) -> str:
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _codes_href(codes: list[str]) -> str:
    text = "\n".join([_("Fleet Cockpit recovery codes (each works once)"), "", *codes, ""])
    return "data:text/plain;charset=utf-8," + quote(text)


@login_required
@never_cache
def security(request):
    user, address = request.user, client_address(request)
    action = request.POST.get("action") if request.method == "POST" else None
    totp_form = TotpCodeForm(request.POST if action == "confirm" else None)
    regenerate_form = CodeForm(request.POST if action == "regenerate" else None, prefix="regenerate")
    remove_form = CodeForm(request.POST if action == "remove" else None, prefix="remove")
    codes, status = None, 200
    try:
        if action == "start":
            services.totp_setup_start(user=user)
            return redirect(request.get_full_path())
        if action == "confirm" and totp_form.is_valid():
            device, codes = services.totp_setup_confirm(user=user, code=totp_form.cleaned_data["code"], address=address)
            django_otp.login(request, device)  # the code just typed confirms this session too
            messages.success(request, _("Two-factor authentication is on. Save your recovery codes now: they are "
                                        "shown once."))
        elif action == "regenerate" and regenerate_form.is_valid():
            codes = services.recovery_codes_regenerate(user=user, code=regenerate_form.cleaned_data["code"],
                                                       address=address)
            messages.success(request, _("New recovery codes were made; the old ones no longer work. Save these now: "
                                        "they are shown once."))
        elif action == "remove" and remove_form.is_valid():
            services.mfa_remove(user=user, code=remove_form.cleaned_data["code"], address=address)
            messages.success(request, _("Two-factor authentication is off for your account."))
            return redirect(request.get_full_path())
        elif action is not None:
            status = 400
    except (services.CodeRefused, services.TooManyCodes) as exc:
        form = {"confirm": totp_form, "regenerate": regenerate_form, "remove": remove_form}[action]
        status = _form_error(form, exc)
    except DomainError as exc:  # the state does not allow it (already set up, required by an organization…)
        messages.error(request, exc.message)
        if action == "start":
            return redirect(request.get_full_path())
        status = exc.status
    setting_up = None if has_mfa(user=user) else totp_device_of(user=user, confirmed=False)
    context = {
        "has_mfa": has_mfa(user=user), "setting_up": setting_up, "totp_form": totp_form,
        "regenerate_form": regenerate_form, "remove_form": remove_form, "codes": codes,
        "codes_href": _codes_href(codes) if codes else "", "codes_left": recovery_codes_left(user=user),
        "required_by": organizations_requiring_mfa(user=user), "next": _safe_next(request),
    }
    if setting_up is not None:
        context.update(qr_svg=_qr_svg(setting_up), secret=_spaced_secret(setting_up))
    return render(request, "mfa/security.html", context, status=status)


# --- the organization's requirement -------------------------------------------------------------------------------


@require_role("can_manage_settings")
def mfa_settings(request, org_slug):
    organization = request.organization
    policy = mfa_policy_for(organization=organization)
    form = PolicyForm(request.POST if request.method == "POST" else None,
                      initial={"required_for_admins": policy.required_for_admins})
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, lambda data: services.mfa_policy_update(
            organization=organization, actor=actor_for(request), required=data["required_for_admins"]))
        if saved:
            messages.success(request, _("Owners and admins must now use two-factor authentication.")
                             if saved.required_for_admins else
                             _("Two-factor authentication is no longer required of owners and admins."))
            return redirect("mfa_settings", org_slug=org_slug)
    return render(request, "mfa/mfa_settings.html", {
        "form": form, "policy": policy, "members": policy_members(organization=organization),
        "can_reset": request.membership.role == Membership.Role.OWNER,
    }, status=400 if form.errors else 200)


@require_role("can_manage_settings")
def mfamember_reset(request, org_slug, pk):
    """An owner resets a member's second factor (a lost phone), after a confirmation."""
    member = organization_member(organization=request.organization, pk=pk)
    if member is None:
        raise Http404("No such member")
    if request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only owners reset a member's two-factor authentication.")
    if request.method == "POST":
        run_action(request, lambda: services.mfa_reset(organization=request.organization, membership=member,
                                                       actor=actor_for(request)),
                   _("The two-factor authentication of %(name)s was reset: they set it up again at their next "
                     "sign-in.") % {"name": member.user.get_username()})
        return redirect("mfa_settings", org_slug=org_slug)
    return render(request, "mfa/member_reset.html", {"member": member, "has_mfa": has_mfa(user=member.user)})
