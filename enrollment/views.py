"""Cockpit pages of enrollment (under /o/<org_slug>/): invitations, troubleshooting, remote management."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.views.decorators.http import require_POST, require_safe

from core import services as cockpit_services
from core.models import Employee
from core.web import actor_for, call_service, org_object_or_404, paginate, require_role, run_action
from devices.models import Device
from enrollment import selectors, services, unenroll
from enrollment.forms import RemoteManagementForm
from enrollment.models import AutoUnenrollRun, EnrollmentSettings, InvitationBatch

# What a bulk send of each kind says: sent during the request, or queued as a batch (which reports on the page).
SENT = {
    InvitationBatch.Kind.INVITATIONS: ngettext_lazy(
        "Invitation sent to %(count)d employee.", "Invitation sent to %(count)d employees.", "count"),
    InvitationBatch.Kind.FIX_INSTRUCTIONS: ngettext_lazy(
        "Fix instructions sent to %(count)d employee.", "Fix instructions sent to %(count)d employees.", "count"),
}
BATCH = {
    InvitationBatch.Kind.INVITATIONS: ngettext_lazy("%(count)d invitation", "%(count)d invitations", "count"),
    InvitationBatch.Kind.FIX_INSTRUCTIONS: ngettext_lazy(
        "the fix instructions for %(count)d device", "the fix instructions for %(count)d devices", "count"),
}


def _report(request, outcome: dict, kind: str) -> None:
    sent, skipped = outcome.get("sent", 0), outcome["skipped"]
    if "queued" in outcome:
        text = gettext("Sending %(what)s in the background: follow them below as they leave.") % {
            "what": BATCH[kind] % {"count": outcome["queued"]}}
    else:
        text = SENT[kind] % {"count": sent}
    if skipped:
        text += " " + ngettext(
            "%(count)d skipped (offboarded, no owner, or nothing the employee can fix).",
            "%(count)d skipped (offboarded, no owner, or nothing the employee can fix).", skipped) % {"count": skipped}
    (messages.success if sent or outcome.get("queued") else messages.warning)(request, text)


def _posted_ids(request, name: str) -> list[int]:
    values = request.POST.getlist(name)
    return [int(value) for value in values if value.isascii() and value.isdigit() and len(value) < 19]


def _bulk_sends(request, kind: str) -> dict:
    """Batches of ``kind`` still being sent, and those abandoned in the last day, for the page that started them:
    ``enrollment/_bulk_sends.html`` shows each one's progress and htmx fetches it again (``?part=sends``) every two
    seconds while one is being sent."""
    running = [{"what": BATCH[kind] % {"count": batch.total}, "sent": batch.sent, "total": batch.total,
                "resumed": batch.resumed}
               for batch in selectors.bulk_sends_in_progress(organization=request.organization, kind=kind)]
    abandoned = [{"what": BATCH[kind] % {"count": batch.total}, "sent": batch.sent,
                  "when": timezone.localtime(batch.abandoned_at), "why": batch.message}
                 for batch in selectors.bulk_sends_abandoned(organization=request.organization, kind=kind)]
    return {"sends": {"running": running, "abandoned": abandoned, "url": f"{request.path}?part=sends"}}


# --- invitations ---------------------------------------------------------------------------


@require_role("can_manage_people")
@require_POST
def employee_invite(request, org_slug, pk):
    employee = org_object_or_404(request, Employee, pk=pk)
    run_action(request, lambda: services.invitation_send(employee=employee, actor=actor_for(request)),
               lambda invitation: gettext("%(kind)s sent to %(email)s.") % {
                   "kind": invitation.get_kind_display(), "email": employee.email})
    return redirect("employee_detail", org_slug=org_slug, pk=pk)


def invitation_list(request, org_slug):
    """Employees not enrolled yet; invite a selection or all of them."""
    organization = request.organization
    if request.method == "POST":
        if not request.membership.can_manage_people:
            raise PermissionDenied(gettext("Your role does not allow this."))
        if request.POST.get("scope") == "all_not_enrolled":
            ids = list(selectors.employees_not_enrolled(organization=organization).values_list("pk", flat=True))
        else:
            ids = _posted_ids(request, "employee")
        if not ids:
            messages.warning(request, gettext("Select at least one employee."))
        else:
            _report(request, services.invitation_send_bulk(organization=organization, employee_ids=ids,
                                                           actor=actor_for(request)), InvitationBatch.Kind.INVITATIONS)
        return redirect("invitation_list", org_slug=org_slug)
    sends = _bulk_sends(request, InvitationBatch.Kind.INVITATIONS)
    if request.GET.get("part") == "sends":
        return render(request, "enrollment/_bulk_sends.html", sends)
    pending = selectors.employees_not_enrolled(organization=organization).prefetch_related("invitations")
    page = paginate(request, pending)
    return render(request, "enrollment/invitation_list.html", {"page": page, **sends})


# --- troubleshooting ---------------------------------------------------------------------------


@require_safe
def troubleshooting(request, org_slug):
    sends = _bulk_sends(request, InvitationBatch.Kind.FIX_INSTRUCTIONS)
    if request.GET.get("part") == "sends":
        return render(request, "enrollment/_bulk_sends.html", sends)
    groups = selectors.troubleshooting_groups(organization=request.organization)
    stalled = selectors.stalled_enrollments(organization=request.organization)
    return render(request, "enrollment/troubleshooting.html", {"groups": groups, "stalled": stalled, **sends})


@require_role("can_act_on_devices")
@require_POST
def troubleshooting_send(request, org_slug):
    ids = _posted_ids(request, "device")
    if not ids:
        messages.warning(request, gettext("Select at least one device."))
    else:
        _report(request, services.fix_instructions_send_bulk(organization=request.organization, device_ids=ids,
                                                             actor=actor_for(request)),
                InvitationBatch.Kind.FIX_INSTRUCTIONS)
    if request.POST.get("back") == "device" and len(ids) == 1:
        return redirect("device_detail", org_slug=org_slug, pk=ids[0])
    return redirect("troubleshooting", org_slug=org_slug)


@require_role("can_act_on_devices")
@require_POST
def device_exemption(request, org_slug, pk):
    device = org_object_or_404(request, Device.objects, pk=pk)
    exempt = request.POST.get("exempt") == "1"
    services.device_set_auto_unenroll_exempt(device=device, exempt=exempt, actor=actor_for(request))
    messages.success(request, gettext("Exempt from auto-unenrollment (legal hold).") if exempt
                     else gettext("No longer exempt from auto-unenrollment."))
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
        messages.success(request, gettext("Remote management settings saved."))
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
               lambda run: ngettext("%(status)s: %(count)d device purged.", "%(status)s: %(count)d devices purged.",
                                    len(run.purged_ids)) % {"status": run.get_status_display(),
                                                            "count": len(run.purged_ids)})
    return redirect("remote_management", org_slug=org_slug)
