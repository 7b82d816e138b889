"""Cockpit pages of the Fleet connection (owners and admins) and of the sync runs."""

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.errors import DomainError
from core.models import Group
from core.panels import Panel
from core.web import actor_for, call_service, org_object_or_404, paginate, require_role
from mdm_sync import labels, services
from mdm_sync.forms import FleetConnectionForm, GroupLabelSettingsForm
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.selectors import sync_health, sync_live, sync_run_list


@require_role("can_manage_settings")
def fleet_settings(request, org_slug):
    connection = FleetConnection.objects.for_org(request.organization).first()
    initial = {"url": connection.url, "verify_tls": connection.verify_tls} if connection else {"verify_tls": True}
    form = FleetConnectionForm(request.POST or None, initial=initial, has_token=connection is not None)
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, lambda data: services.fleet_connection_save(
            organization=request.organization, actor=actor_for(request), **data
        ))
        if saved:
            messages.success(request, saved.last_test_message or _("The Fleet connection was saved."))
            return redirect("fleet_settings", org_slug=org_slug)
    label_form = GroupLabelSettingsForm(
        initial={"sync_groups_as_labels": connection.sync_groups_as_labels if connection else True})
    return render(request, "mdm_sync/fleet_settings.html",
                  {"form": form, "connection": connection, "label_form": label_form,
                   "label_summary": labels.group_label_summary(organization=request.organization)},
                  status=400 if form.errors else 200)


@require_role("can_manage_settings")
@require_POST
def fleet_label_settings(request, org_slug):
    form = GroupLabelSettingsForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["sync_groups_as_labels"]
        try:
            labels.group_labels_configure(organization=request.organization, enabled=enabled,
                                          actor=actor_for(request))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Groups are kept as Fleet labels.") if enabled
                             else _("Groups are no longer sent to Fleet as labels."))
    return redirect("fleet_settings", org_slug=org_slug)


@require_role("can_act_on_devices")
@require_POST
def group_label_retry(request, org_slug, pk):
    group = org_object_or_404(request, Group, pk=pk)
    try:
        labels.group_label_retry(organization=request.organization, group=group, actor=actor_for(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The group's label is being sent to Fleet; this page shows the outcome."))
    return redirect("group_detail", org_slug=org_slug, pk=pk)


def group_label_panel(request, group) -> Panel | None:
    """The group page's panel (``core.panels.group_panels``): the group's Fleet label, once connected."""
    state = labels.group_label_state(organization=request.organization, group=group)
    if state["connection"] is None:
        return None
    return Panel(template="mdm_sync/_group_label_panel.html", title=_("Fleet label"), context=state)


@require_role("can_manage_settings")
@require_POST
def fleet_test(request, org_slug):
    connection = FleetConnection.objects.for_org(request.organization).first()
    if connection is None:
        messages.error(request, _("Connect to Fleet first."))
    else:
        ok, message = services.fleet_connection_test(connection=connection, actor=actor_for(request))
        (messages.success if ok else messages.error)(request, message)
    return redirect("fleet_settings", org_slug=org_slug)


def _since(request) -> datetime | None:
    """``?since=`` (the epoch second "Sync now" was clicked), or None when absent or not a number."""
    try:
        return datetime.fromtimestamp(int(request.GET["since"]), tz=UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        return None


@require_safe
def sync_list(request, org_slug):
    """The runs, updated without a reload while one runs or one asked for has not started yet: htmx asks for the
    live part (``?part=live``) every two seconds and stops once nothing is going on."""
    runs = paginate(request, sync_run_list(organization=request.organization), per_page=25)
    since = _since(request)
    live = sync_live(organization=request.organization, since=since, now=timezone.now())
    query = {"part": "live", **({"since": request.GET["since"]} if since else {})}
    context = {"page": runs, "health": sync_health(organization=request.organization),
               "live": live if runs.number == 1 else None, "live_url": f"{request.path}?{urlencode(query)}"}
    if request.GET.get("part") == "live":
        return render(request, "mdm_sync/_syncrun_live.html", context)
    return render(request, "mdm_sync/syncrun_list.html", context)


@require_role("can_act_on_devices")
@require_POST
def sync_now(request, org_slug):
    try:
        services.fleet_sync_queue(organization=request.organization, trigger=SyncRun.Trigger.MANUAL,
                                  actor=actor_for(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sync_list", org_slug=org_slug)
    messages.success(request, _("A sync was started. It shows here when the worker runs it (usually seconds)."))
    since = int(timezone.now().timestamp())  # the page watches for the run that starts from now on
    return redirect(f"{reverse('sync_list', kwargs={'org_slug': org_slug})}?{urlencode({'since': since})}")
