"""Single sign-on's pages: the public start (``/sso/``), the flow (``/sso/<slug>/login/`` → the identity provider →
``/sso/<slug>/callback/``), the refusal page, and the organization's settings page (``/o/<slug>/settings/sso/``).

A session started here is pinned to the organization (``core.auth.SESSION_SSO_ORGANIZATION``, read by
``core.middleware.OrganizationMiddleware``): it sees that organization only.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import clients
from core.auth import SESSION_SSO_ORGANIZATION
from core.web import actor_for, call_service, require_role
from sso.forms import SsoConfigForm, SsoStartForm, check_issuer
from sso.oidc import SCOPES, SsoRefused, authorization_redirect, finish
from sso.refusals import refusal
from sso.selectors import sso_activity, sso_config_by_slug, sso_config_for
from sso.services import sso_config_save, sso_refusal_record, sso_sign_in

logger = logging.getLogger(__name__)

BACKEND = "core.auth.CockpitModelBackend"


def _absolute(request, path: str) -> str:
    """``COCKPIT_BASE_URL`` + path when set (what the identity provider is given), else this request's own host."""
    base = getattr(settings, "COCKPIT_BASE_URL", "")
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


def callback_url(request, slug: str) -> str:
    return _absolute(request, reverse("sso_callback", kwargs={"sso_slug": slug}))


def login_url(request, slug: str) -> str:
    return _absolute(request, reverse("sso_login", kwargs={"sso_slug": slug}))


def _refused(request, exc: SsoRefused, *, config=None, slug: str = ""):
    """The refusal page, audited in the organization when it has single sign-on configured and the answer belongs
    to a sign-in started in this browser; at most ``SSO_REFUSALS_AUDITED`` (count, seconds) per client address, so
    nobody fills an organization's audit log from outside (the rest is logged)."""
    allowed, window = settings.SSO_REFUSALS_AUDITED
    key = clients.limit_key("sso-refused", clients.address_bucket(clients.client_address(request)))
    if config is not None and not exc.unsolicited and clients.hit(key, window) <= allowed:
        sso_refusal_record(config=config, reason=exc.reason, detail=exc.detail, email=_refused_email(exc),
                           user=getattr(exc, "user", None))
    logger.info("Single sign-on refused for %s: %s", slug or "-", exc)
    found = refusal(exc.reason)
    return render(request, "sso/sso_refused.html", {
        "reason": exc.reason, "what": found.what, "todo": found.todo, "detail": exc.detail, "slug": slug,
    }, status=found.status)


def _refused_email(exc: SsoRefused) -> str:
    user = getattr(exc, "user", None)
    if user is not None:
        return user.email
    return exc.detail if "@" in exc.detail else ""


# --- public ----------------------------------------------------------------------------------


@never_cache
@require_GET
def sso_start(request):
    """Asks for the organization's short name, then goes to its sign-in."""
    form = SsoStartForm(request.GET if "organization" in request.GET else None)
    if form.is_bound and form.is_valid():
        return redirect("sso_login", sso_slug=form.cleaned_data["organization"].lower())
    return render(request, "sso/sso_start.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_GET
def sso_login(request, sso_slug):
    config = sso_config_by_slug(slug=sso_slug)
    if config is None:
        return _refused(request, SsoRefused("not_configured"), slug=sso_slug)
    if not config.enabled:
        return _refused(request, SsoRefused("not_configured", "disabled"), config=config, slug=sso_slug)
    try:
        return authorization_redirect(request, config, redirect_uri=callback_url(request, sso_slug))
    except SsoRefused as exc:
        return _refused(request, exc, config=config, slug=sso_slug)


@never_cache
@require_GET
def sso_callback(request, sso_slug):
    config = sso_config_by_slug(slug=sso_slug)
    if config is None:
        return _refused(request, SsoRefused("not_configured"), slug=sso_slug)
    if not config.enabled:
        return _refused(request, SsoRefused("not_configured", "disabled"), config=config, slug=sso_slug)
    try:
        claims = finish(request, config)
        user = sso_sign_in(config=config, claims=claims)
    except SsoRefused as exc:
        return _refused(request, exc, config=config, slug=sso_slug)
    login(request, user, backend=BACKEND)
    request.session[SESSION_SSO_ORGANIZATION] = config.organization_id  # after login(): it may flush the session
    return redirect("dashboard", org_slug=config.organization.slug)


# --- the organization's settings -------------------------------------------------------------


def _initial(config) -> dict:
    if config is None:
        return {"jit_role": "viewer"}
    return {"issuer": config.issuer, "client_id": config.client_id, "enabled": config.enabled,
            "sso_required": config.sso_required, "jit_enabled": config.jit_enabled, "jit_role": config.jit_role}


def _typed(data) -> dict:
    fields = ("issuer", "client_id", "jit_role")
    return {**{key: data.get(key, "") for key in fields},
            **{key: key in data for key in ("enabled", "sso_required", "jit_enabled")}}


def _check(issuer: str) -> dict:
    """What "Check the issuer" shows: the discovery document's essentials, or the problem."""
    problem, discovery = check_issuer(issuer) if issuer else (_("Enter the issuer URL first."), None)
    if problem:
        return {"ok": False, "issuer": issuer, "problem": problem}
    supported = discovery.scopes_supported
    return {"ok": True, "issuer": discovery.issuer, "discovery": discovery,
            "missing_scopes": [scope for scope in SCOPES.split() if supported and scope not in supported],
            "pkce": not discovery.code_challenge_methods_supported
            or "S256" in discovery.code_challenge_methods_supported}


@require_role("can_manage_settings")
def sso_settings(request, org_slug):
    organization = request.organization
    config = sso_config_for(organization=organization)
    has_secret = bool(config and config.has_secret)
    form = SsoConfigForm(initial=_initial(config), has_secret=has_secret)
    check, status = None, 200
    if request.method == "POST" and request.POST.get("action") == "check":
        form = SsoConfigForm(initial=_typed(request.POST), has_secret=has_secret)  # kept as typed, unchecked
        check = _check((request.POST.get("issuer") or "").strip())
        if not check["ok"]:
            status = 400
    elif request.method == "POST":
        form = SsoConfigForm(request.POST, has_secret=has_secret)
        if form.is_valid():
            saved = call_service(form, lambda data: sso_config_save(
                organization=organization, actor=actor_for(request), **data))
            if saved:
                messages.success(request, _("Single sign-on settings saved."))
                return redirect("sso_settings", org_slug=org_slug)
        status = 400
    return render(request, "sso/ssoconfig_form.html", {
        "form": form, "config": config, "check": check,
        "callback_url": callback_url(request, organization.slug), "login_url": login_url(request, organization.slug),
        "activity": sso_activity(organization=organization), "scopes": SCOPES,
    }, status=status)
