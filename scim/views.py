"""The cockpit's SCIM page: the endpoint's address, tokens that can provision, what a deactivation starts, and what
SCIM did lately."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.models import ApiToken
from core.services import api_token_create
from core.web import actor_for, call_service, require_role
from scim.forms import ScimSettingsForm, ScimTokenForm
from scim.selectors import scim_activity, scim_settings_for, scim_tokens
from scim.services import scim_settings_update


def scim_base_url(request) -> str:
    """The address identity providers are given: ``COCKPIT_BASE_URL`` when set, else this page's own."""
    path = reverse("scim_root").rstrip("/")  # clients append "/Users"
    base = getattr(settings, "COCKPIT_BASE_URL", "")
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


@require_role("can_manage_settings")
def scim_settings(request, org_slug):
    organization = request.organization
    current = scim_settings_for(organization=organization)
    initial = {"deactivation": current.deactivation, "schedule_after_days": current.schedule_after_days}
    settings_form = ScimSettingsForm(initial=initial)
    token_form = ScimTokenForm()
    new_key, status = None, 200
    if request.method == "POST" and request.POST.get("action") == "token":
        token_form = ScimTokenForm(request.POST)
        if token_form.is_valid():
            created = call_service(token_form, lambda data: api_token_create(
                organization=organization, actor=actor_for(request), name=data["name"],
                scope=ApiToken.Scope.WRITE))
            if created:
                token, new_key = created
                token_form = ScimTokenForm()
                messages.success(request, _("The token “%(name)s” was created. Copy its key now: it is shown once.")
                                 % {"name": token.name})
    elif request.method == "POST":
        settings_form = ScimSettingsForm(request.POST)
        if settings_form.is_valid():
            saved = call_service(settings_form, lambda data: scim_settings_update(
                organization=organization, actor=actor_for(request), **data))
            if saved:
                messages.success(request, _("SCIM settings saved: a deactivation now starts: %(what)s.")
                                 % {"what": saved.get_deactivation_display().lower()})
                return redirect("scim_settings", org_slug=org_slug)
    if settings_form.errors or token_form.errors:
        status = 400
    return render(request, "scim/scim_settings.html", {
        "settings_form": settings_form, "token_form": token_form, "new_key": new_key,
        "base_url": scim_base_url(request), "tokens": scim_tokens(organization=organization),
        "activity": scim_activity(organization=organization),
    }, status=status)
