"""Cockpit pages of the inventory's bulk actions (``devices.bulk``): the action bar posts here, a confirmation page
says what will happen to how many devices, then the results page (or the job's progress, for a large selection)."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.audit import Source
from core.errors import DomainError
from core.jobs import Job
from core.web import actor_for, org_object_or_404, require_role
from devices import bulk
from devices.forms import BulkActionForm
from devices.listing import device_filter_spec
from devices.models import Device

PREVIEW_DEVICES = 20  # devices listed on the confirmation page
RESULT_NAMES = 1000  # results shown with the device's name (the rest by id and serial)


def bulk_form(request, data=None) -> BulkActionForm:
    return BulkActionForm(data, organization=request.organization, actions=bulk.bulk_actions())


def _list_url(request, filters: str) -> str:
    url = reverse("device_list", args=[request.organization.slug])
    return f"{url}?{filters}" if filters else url


def _selection(request, data: dict) -> list[int]:
    """The checked ids, or every device the list shows under the posted filters (its query string)."""
    if not data.get("all_matching"):
        return bulk.selection_from_ids(data["ids"])
    spec, _filterset = device_filter_spec(QueryDict(data.get("filters") or ""), request=request)
    if spec is None:
        raise bulk.InvalidInput(_("These filters are not valid any more; filter the list again."), field="filters")
    return bulk.selection_from_spec(organization=request.organization, spec=spec)


@require_role("can_act_on_devices")
@require_POST
def device_bulk(request, org_slug):
    """The action bar's target: the confirmation page, then (confirmed) the run."""
    form = bulk_form(request, request.POST)
    if not form.is_valid():
        if "action" not in form.errors and not form.errors.get("ids") and form.non_field_errors():
            messages.warning(request, form.non_field_errors()[0])
            return redirect(_list_url(request, request.POST.get("filters", "")))
        return _confirm_page(request, form, status=400)
    data = form.cleaned_data
    try:
        action = bulk.bulk_action(data["action"])
        device_ids = _selection(request, data)
        arguments = bulk.bulk_arguments(
            organization=request.organization, action=action, employee=data.get("employee"), group=data.get("group"),
            wipe=data.get("wipe") if action.offers_wipe else None,
            remove_from_fleet=data.get("remove_from_fleet") if action.offers_removal else None,
            reason=data.get("reason", ""))
    except DomainError as exc:
        form.add_error(None, exc.message)
        return _confirm_page(request, form, status=400)
    if not data.get("confirmed"):
        return _confirm_page(request, form, action=action, arguments=arguments, device_ids=device_ids)
    actor = actor_for(request)
    if bulk.runs_as_job(device_ids):
        try:
            job = bulk.devices_bulk_start(organization=request.organization, actor=actor, action=action,
                                          device_ids=device_ids, arguments=arguments, source=Source.MANUAL)
        except DomainError as exc:  # no job queue (503)
            form.add_error(None, exc.message)
            return _confirm_page(request, form, action=action, arguments=arguments, device_ids=device_ids,
                                 status=exc.status)
        return redirect("job_device_bulk", org_slug=org_slug, pk=job.pk)
    body = bulk.devices_bulk_run(organization=request.organization, actor=actor, action=action,
                                 device_ids=device_ids, arguments=arguments, source=Source.MANUAL)
    return _result_page(request, body, back=_list_url(request, data.get("filters", "")))


def _confirm_page(request, form, *, action=None, arguments=None, device_ids=(), status=200):
    preview, owned, not_in_fleet = [], 0, 0
    if action is not None:
        first = list(device_ids[:PREVIEW_DEVICES])
        found = Device.objects.for_org(request.organization).select_related("assignee").in_bulk(first)
        preview = [found[pk] for pk in first if pk in found]
        selected = Device.objects.for_org(request.organization).filter(pk__in=device_ids)
        owned = selected.filter(assignee__isnull=False).count()
        if action.offers_removal:  # their removal would be refused, as on one device's page
            not_in_fleet = selected.filter(fleet_host_id__isnull=True).count()
    summary = ""
    if action is not None:
        summary = action.summary % {
            "employee": arguments.employee.display_name if arguments.employee else "",
            "group": arguments.group.name if arguments.group else "",
        }
    context = {
        "form": form, "action": action, "arguments": arguments, "summary": summary,
        "count": len(device_ids), "preview": preview, "more": max(0, len(device_ids) - len(preview)),
        # The cockpit recommends a wipe when the owner changes (DESIGN §4), as on the device page.
        "wipe_checked": bool(form.data.get("wipe")) if "wipe" in form.data else owned > 0,
        "owned": owned, "not_in_fleet": not_in_fleet,
        "remove_checked": bool(form.data.get("remove_from_fleet")),
        "as_job": bulk.runs_as_job(list(device_ids)) if action else False,
        "warnings": bulk.leaving_warnings(organization=request.organization, arguments=arguments) if arguments else [],
        "back": _list_url(request, form.data.get("filters", "")),
        "ids": [] if form.data.get("all_matching") else list(device_ids),
    }
    return render(request, "devices/device_bulk_confirm.html", context, status=status)


def _result_page(request, body: dict, *, back: str, job: Job | None = None):
    failed = [result for result in body["results"] if not result["ok"]]
    succeeded = [result for result in body["results"] if result["ok"]]
    shown = [result["device_id"] for result in failed[:RESULT_NAMES]]
    names = dict(Device.objects.for_org(request.organization).filter(pk__in=shown).values_list("pk", "name"))
    for result in failed:
        result["name"] = names.get(result["device_id"], "")
    action = bulk.BULK_ACTIONS.get(body["action"])
    context = {"body": body, "failed": failed, "succeeded": succeeded, "back": back, "job": job,
               "action_label": action.label if action else body["action"]}
    return render(request, "devices/device_bulk_result.html", context)


@require_role("can_act_on_devices")
@require_safe
def job_device_bulk(request, org_slug, pk):
    """A large bulk action's job: its progress while it runs (updated without a reload), then its results."""
    job = org_object_or_404(request, Job.objects.filter(kind=bulk.BULK_JOB), pk=pk)
    back = reverse("device_list", args=[org_slug])
    if job.status == Job.Status.SUCCEEDED and job.result:
        return _result_page(request, job.result, back=back, job=job)
    if job.is_over:
        messages.error(request, job.error or _("The bulk action did not finish."))
    return render(request, "devices/device_bulk_job.html", {"job": job, "back": back})

