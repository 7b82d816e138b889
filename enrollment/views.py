"""Cockpit pages of enrollment (under /o/<org_slug>/): invitations, troubleshooting, remote management."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from cockpit import services as cockpit_services
from cockpit.models import Employee
from cockpit.web import actor_for, call_service, paginate, require_role, run_action
from devices.models import Device
from enrollment import selectors, services, unenroll
from enrollment.forms import RemoteManagementForm
from enrollment.models import AutoUnenrollRun, EnrollmentSettings


def _report(request, outcome: dict, what: str) -> None:
    sent, skipped = outcome["sent"], outcome["skipped"]
    text = f"{what} sent to {sent} employee{'s' if sent != 1 else ''}."
    if skipped:
        text += f" {skipped} skipped (offboarded, no owner, or nothing the employee can fix)."
    (messages.success if sent else messages.warning)(request, text)


# --- invitations ---------------------------------------------------------------------------


@require_role("can_manage_people")
@require_POST
def employee_invite(request, org_slug, pk):
    employee = Employee.objects.for_org(request.organization).filter(pk=pk).first()
    if employee is None:
        raise Http404("No such employee")
    run_action(request, lambda: services.invitation_send(employee=employee, actor=actor_for(request)),
               lambda invitation: f"{invitation.get_kind_display()} sent to {employee.email}.")
    return redirect("employee_detail", org_slug=org_slug, pk=pk)


def invitation_list(request, org_slug):
    """Employees not enrolled yet; invite a selection or all of them."""
    organization = request.organization
    if request.method == "POST":
        if not request.membership.can_manage_people:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Your role does not allow this.")
        pending = selectors.employees_not_enrolled(organization=organization)
        if request.POST.get("scope") == "all_not_enrolled":
            chosen = list(pending)
        else:
            ids = [value for value in request.POST.getlist("employee") if value.isascii() and value.isdigit()]
            chosen = list(Employee.objects.for_org(organization).filter(pk__in=ids))
        if not chosen:
            messages.warning(request, "Select at least one employee.")
        else:
            _report(request, services.invitation_send_many(organization=organization, employees=chosen,
                                                           actor=actor_for(request)), "Invitation")
        return redirect("invitation_list", org_slug=org_slug)
    pending = selectors.employees_not_enrolled(organization=organization).prefetch_related("invitations")
    page = paginate(request, pending)
    return render(request, "enrollment/invitation_list.html", {"page": page})


# --- troubleshooting ---------------------------------------------------------------------------


@require_safe
def troubleshooting(request, org_slug):
    groups = selectors.troubleshooting_groups(organization=request.organization)
    stalled = selectors.stalled_enrollments(organization=request.organization)
    return render(request, "enrollment/troubleshooting.html", {"groups": groups, "stalled": stalled})


@require_role("can_act_on_devices")
@require_POST
def troubleshooting_send(request, org_slug):
    ids = [value for value in request.POST.getlist("device") if value.isascii() and value.isdigit()]
    devices = list(Device.objects.for_org(request.organization).filter(pk__in=ids).select_related("assignee"))
    if not devices:
        messages.warning(request, "Select at least one device.")
    else:
        _report(request, services.fix_instructions_send(organization=request.organization, devices=devices,
                                                        actor=actor_for(request)), "Fix instructions")
    if request.POST.get("back") == "device" and len(devices) == 1:
        return redirect("device_detail", org_slug=org_slug, pk=devices[0].pk)
    return redirect("troubleshooting", org_slug=org_slug)


@require_role("can_act_on_devices")
@require_POST
def device_exemption(request, org_slug, pk):
    device = Device.objects.for_org(request.organization).filter(pk=pk).first()
    if device is None:
        raise Http404("No such device")
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
    blocked = AutoUnenrollRun.objects.for_org(request.organization).filter(pk=pk).first()
    if blocked is None:
        raise Http404("No such run")
    run_action(request, lambda: unenroll.auto_unenroll_run(organization=request.organization,
                                                           actor=actor_for(request), confirm_run=blocked),
               lambda run: f"{run.get_status_display()}: {len(run.purged_ids)} device(s) purged.")
    return redirect("remote_management", org_slug=org_slug)
