"""Cockpit pages of outbound webhooks, in the organization's settings (owners and admins): the endpoints (list,
create, edit, delete; the secret shown once on creation and rotation; a test event; enable and disable) and the
delivery log with redelivery."""

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role, run_action
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.filtersets import DeliveryFilterSet
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, Endpoint
from webhooks.selectors import delivery_list as select_deliveries
from webhooks.selectors import endpoint_list as select_endpoints

RECENT_DELIVERIES = 20


@require_role("can_manage_settings")
def endpoint_list(request, org_slug):
    endpoints = select_endpoints(organization=request.organization)
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints, "event_types": EVENT_TYPES})


@require_role("can_manage_settings")
def endpoint_create(request, org_slug):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = call_service(form, lambda data: services.endpoint_create(
            organization=request.organization, actor=actor_for(request), **data))
        if created:
            endpoint, secret = created
            messages.success(request, _("The endpoint was added. Copy its signing secret now: it is shown once."))
            return _detail(request, endpoint, new_secret=secret)
    return render(request, "webhooks/endpoint_form.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, endpoint: Endpoint, *, new_secret: str = ""):
    endpoint = org_object_or_404(request, select_endpoints(organization=request.organization), pk=endpoint.pk)
    deliveries = select_deliveries(organization=request.organization, with_attempts=False).filter(
        endpoint=endpoint)[:RECENT_DELIVERIES]
    return render(request, "webhooks/endpoint_detail.html", {
        "endpoint": endpoint, "deliveries": deliveries, "new_secret": new_secret,
        "event_types": {event_type: EVENT_TYPES[event_type] for event_type in endpoint.event_types},
    })


@require_role("can_manage_settings")
def endpoint_detail(request, org_slug, pk):
    return _detail(request, org_object_or_404(request, Endpoint, pk=pk))


@require_role("can_manage_settings")
def endpoint_edit(request, org_slug, pk):
    endpoint = org_object_or_404(request, Endpoint, pk=pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, lambda data: services.endpoint_update(
            endpoint=endpoint, actor=actor_for(request), **data))
        if updated:
            messages.success(request, _("The endpoint was saved."))
            return redirect("webhookendpoint_detail", org_slug=org_slug, pk=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint},
                  status=400 if form.errors else 200)


@require_role("can_manage_settings")
def endpoint_delete(request, org_slug, pk):
    endpoint = org_object_or_404(request, Endpoint, pk=pk)
    if request.method == "POST":
        services.endpoint_delete(endpoint=endpoint, actor=actor_for(request))
        messages.success(request, _("The endpoint %(url)s was deleted, with its delivery log.") % {"url": endpoint.url})
        return redirect("webhookendpoint_list", org_slug=org_slug)
    return render(request, "webhooks/endpoint_delete.html", {"endpoint": endpoint})


@require_role("can_manage_settings")
@require_POST
def endpoint_rotate_secret(request, org_slug, pk):
    endpoint = org_object_or_404(request, Endpoint, pk=pk)
    endpoint, secret = services.endpoint_rotate_secret(endpoint=endpoint, actor=actor_for(request))
    messages.success(request, _("A new signing secret was made: copy it now, it is shown once. The previous one "
                                "stays valid for 24 hours (each event carries both signatures meanwhile)."))
    return _detail(request, endpoint, new_secret=secret)


@require_role("can_manage_settings")
@require_POST
def endpoint_test(request, org_slug, pk):
    endpoint = org_object_or_404(request, Endpoint, pk=pk)
    delivery = services.endpoint_ping(endpoint=endpoint, actor=actor_for(request))
    if delivery.status == Delivery.Status.SUCCEEDED:
        messages.success(request, _("The test event was delivered: HTTP %(status)s.")
                         % {"status": delivery.last_status_code})
    else:
        messages.error(request, _("The test event was not delivered: %(error)s") % {"error": delivery.last_error})
    return redirect("webhookendpoint_detail", org_slug=org_slug, pk=endpoint.pk)


def _set_enabled(request, org_slug, pk, enabled: bool):
    endpoint = org_object_or_404(request, Endpoint, pk=pk)
    done = _("The endpoint is enabled: new events are sent to it.") if enabled else _(
        "The endpoint is disabled: its waiting events failed (redeliver them once it is enabled again).")
    run_action(request, lambda: services.endpoint_update(endpoint=endpoint, actor=actor_for(request),
                                                         enabled=enabled), done)
    return redirect("webhookendpoint_detail", org_slug=org_slug, pk=endpoint.pk)


@require_role("can_manage_settings")
@require_POST
def endpoint_enable(request, org_slug, pk):
    return _set_enabled(request, org_slug, pk, True)


@require_role("can_manage_settings")
@require_POST
def endpoint_disable(request, org_slug, pk):
    return _set_enabled(request, org_slug, pk, False)


@require_role("can_manage_settings")
def delivery_list(request, org_slug):
    filterset, rows = filterset_for(DeliveryFilterSet, request,
                                    select_deliveries(organization=request.organization, with_attempts=False))
    return render(request, "webhooks/delivery_list.html", {"filter": filterset, "page": paginate(request, rows)})


@require_role("can_manage_settings")
def delivery_detail(request, org_slug, pk):
    delivery = org_object_or_404(request, select_deliveries(organization=request.organization), pk=pk)
    payload = json.dumps(delivery.message.payload, indent=2, ensure_ascii=False)
    return render(request, "webhooks/delivery_detail.html", {"delivery": delivery, "payload": payload})


@require_role("can_manage_settings")
@require_POST
def delivery_redeliver(request, org_slug, pk):
    delivery = org_object_or_404(request, Delivery, pk=pk)
    run_action(request, lambda: services.delivery_redeliver(delivery=delivery, actor=actor_for(request)),
               _("Queued for delivery again: the log shows the outcome in a moment."))
    return redirect("webhookdelivery_detail", org_slug=org_slug, pk=delivery.pk)
