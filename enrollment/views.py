"""Cockpit pages of enrollment (under /o/<org_slug>/): invitations, troubleshooting, remote management."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from core import services as cockpit_services
from core.models import Employee
from core.web import actor_for, call_service, org_object_or_404, paginate, require_role, run_action
from devices.models import Device
from enrollment import selectors, services, unenroll
from enrollment.forms import RemoteManagementForm
from enrollment.models import AutoUnenrollRun, EnrollmentSettings, InvitationBatch


def _report(request, outcome: dict, what: str, queued: str) -> None:
    """``queued``: what a queued batch is sending, e.g. "{n} invitations" (the tasks report on the page)."""
    sent, skipped = outcome.get("sent", 0), outcome["skipped"]
    if "queued" in outcome:
        text = f"Sending {queued.format(n=outcome['queued'])}… Refresh the page to follow them as they leave."
    else:
        text = f"{what} sent to {sent} employee{'s' if sent != 1 else ''}."
    if skipped:
        text += f" {skipped} skipped (offboarded, no owner, or nothing the employee can fix)."
    (messages.success if sent or outcome.get("queued") else messages.warning)(request, text)


def _posted_ids(request, name: str) -> list[int]:
    values = request.POST.getlist(name)
    return [int(value) for value in values if value.isascii() and value.isdigit() and len(value) < 19]


def _show_progress(request, kind: str, queued: str) -> None:
    """Batches still being sent, and those abandoned in the last day, on the page that started them."""
    for batch in selectors.bulk_sends_in_progress(organization=request.organization, kind=kind):
        text = f"Sending {queued.format(n=batch.total)}: {batch.sent} sent so far."
        if batch.resumed:
            text += " " + gettext("Picked up again after its worker stopped.")
        messages.info(request, text)
    for batch in selectors.bulk_sends_abandoned(organization=request.organization, kind=kind):
        messages.warning(request, gettext("Sending %(what)s was abandoned at %(when)s: %(why)s") % {
            "what": queued.format(n=batch.total), "when": timezone.localtime(batch.abandoned_at).strftime(
                "%Y-%m-%d %H:%M"), "why": batch.message})


# --- invitations ---------------------------------------------------------------------------


@require_role("can_manage_people")
@require_POST
def employee_invite(request, org_slug, pk):
    employee = org_object_or_404(request, Employee, pk=pk)
    run_action(request, lambda: services.invitation_send(employee=employee, actor=actor_for(request)),
               lambda invitation: f"{invitation.get_kind_display()} sent to {employee.email}.")
    return redirect("employee_detail", org_slug=org_slug, pk=pk)


def invitation_list(request, org_slug):
    """Employees not enrolled yet; invite a selection or all of them."""
    organization = request.organization
    if request.method == "POST":
        if not request.membership.can_manage_people:
            raise PermissionDenied("Your role does not allow this.")
        if request.POST.get("scope") == "all_not_enrolled":
            ids = list(selectors.employees_not_enrolled(organization=organization).values_list("pk", flat=True))
        else:
            ids = _posted_ids(request, "employee")
        if not ids:
            messages.warning(request, "Select at least one employee.")
        else:
            _report(request, services.invitation_send_bulk(organization=organization, employee_ids=ids,
                                                           actor=actor_for(request)), "Invitation", "{n} invitations")
        return redirect("invitation_list", org_slug=org_slug)
    _show_progress(request, InvitationBatch.Kind.INVITATIONS, "{n} invitations")
    pending = selectors.employees_not_enrolled(organization=organization).prefetch_related("invitations")
    page = paginate(request, pending)
    return render(request, "enrollment/invitation_list.html", {"page": page})


# --- troubleshooting ---------------------------------------------------------------------------


@require_safe
def troubleshooting(request, org_slug):
    _show_progress(request, InvitationBatch.Kind.FIX_INSTRUCTIONS, "the fix instructions for {n} devices")
    groups = selectors.troubleshooting_groups(organization=request.organization)
    stalled = selectors.stalled_enrollments(organization=request.organization)
    return render(request, "enrollment/troubleshooting.html", {"groups": groups, "stalled": stalled})


@require_role("can_act_on_devices")
@require_POST
def troubleshooting_send(request, org_slug):
    ids = _posted_ids(request, "device")
    if not ids:
        messages.warning(request, "Select at least one device.")
    else:
        _report(request, services.fix_instructions_send_bulk(organization=request.organization, device_ids=ids,
                                                             actor=actor_for(request)),
                "Fix instructions", "the fix instructions for {n} devices")
    if request.POST.get("back") == "device" and len(ids) == 1:
        return redirect("device_detail", org_slug=org_slug, pk=ids[0])
    return redirect("troubleshooting", org_slug=org_slug)


@require_role("can_act_on_devices")
@require_POST
def device_exemption(request, org_slug, pk):
    device = org_object_or_404(request, Device.objects, pk=pk)
    exempt = request.POST.get("exempt") == "1"
    services.device_set_auto_unenroll_exempt(device=device, exempt=exempt, actor=actor_for(request))
    messages.success(request, "Exempt from auto-unenrollment (legal hold)." if exempt
                     else "No longer exempt from auto-unenrollment.")
    return redirect("device_detail", org_slug=org_slug, pk=pk)


# --- remote management settings ------------------------------------------------------------------


def _save_settings(request, data: dict):
    organization = request.organization
    actor = actor_for(request)
    with transaction.atomic():
        cockpit_services.organization_update_settings(
            organization=organization, actor=actor, **{k: data[k] for k in RemoteManagementForm.ORGANIZATION_FIELDS})
        services.enrollment_settings_save(
            organization=organization, actor=actor, enroll_secret=data["enroll_secret"] or None,
            **{k: data[k] for k in RemoteManagementForm.ENROLLMENT_FIELDS})
    return True


@require_role("can_manage_settings")
def remote_management(request, org_slug):
    organization = request.organization
    stored = EnrollmentSettings.objects.for_org(organization).first()
    initial = {k: getattr(organization, k) for k in RemoteManagementForm.ORGANIZATION_FIELDS}
    initial |= {k: getattr(stored, k) if stored else "" for k in RemoteManagementForm.ENROLLMENT_FIELDS}
    form = RemoteManagementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and call_service(form, lambda data: _save_settings(request, data)):
        messages.success(request, "Remote management settings saved.")
        return redirect("remote_management", org_slug=org_slug)
    context = {
        "form": form,
        "has_secret": bool(stored and stored.has_enroll_secret),
        "installers_ready": services.installers_ready(organization),
        "plan": unenroll.auto_unenroll_plan(organization=organization),
        "runs": list(selectors.auto_unenroll_runs(organization=organization)[:10]),
    }
    return render(request, "enrollment/remote_management.html", context, status=400 if form.errors else 200)


@require_role("can_manage_settings")
@require_POST
def autounenrollrun_confirm(request, org_slug, pk):
    blocked = org_object_or_404(request, AutoUnenrollRun, pk=pk)
    run_action(request, lambda: unenroll.auto_unenroll_run(organization=request.organization,
                                                           actor=actor_for(request), confirm_run=blocked),
               lambda run: f"{run.get_status_display()}: {len(run.purged_ids)} device(s) purged.")
    return redirect("remote_management", org_slug=org_slug)
