"""Cockpit pages of offboarding: the wizard (decisions → summary → complete or schedule), the list of
cases, the report of departed employees still holding devices, and the wipe actions of the device page."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from core.errors import DomainError
from core.models import Employee
from core.services import organization_update_settings
from core.web import actor_for, call_service, filterset_for, paginate, require_role, run_action
from offboarding import services
from offboarding.filtersets import OffboardingFilterSet
from offboarding.forms import CancelForm, DecisionsForm, OffboardingSettingsForm, ScheduleForm, default_rows
from offboarding.models import WIPE_BY_DEFAULT, Offboarding, OffboardingDevice
from offboarding.selectors import (
    departed_holding_devices,
    offboarding_decisions,
    offboarding_get,
    offboarding_list,
    open_offboarding_for,
)


def _case(request, pk) -> Offboarding:
    try:
        return offboarding_get(organization=request.organization, pk=pk)
    except Offboarding.DoesNotExist as exc:
        raise Http404("No such offboarding") from exc


def _active_employees(organization):
    return Employee.objects.for_org(organization).filter(status=Employee.Status.ACTIVE).only(
        "email", "full_name")[:5000]


def _decisions_page(request, *, employee, form, case=None, status=200):
    return render(request, "offboarding/offboarding_decisions.html", {
        "employee": employee, "form": form, "case": case, "employees": _active_employees(request.organization),
        "default_action": request.organization.get_offboarding_default_action_display(),
        "wipe_defaults_json": json.dumps({str(action): wipe for action, wipe in WIPE_BY_DEFAULT.items()}),
    }, status=status)


def _bound_or_applied(request, form_factory):
    """Bind the posted form; "Apply to all" copies its row onto every device and shows the form again."""
    form = form_factory(request.POST)
    if "apply_all" in request.POST:
        return form_factory(form.applied_to_all()), True
    return form, False


@require_role("can_manage_people")
def employee_offboard(request, org_slug, pk):
    """Wizard step 1: a decision and a wipe for each device the employee holds, then the summary."""
    employee = Employee.objects.for_org(request.organization).filter(pk=pk).first()
    if employee is None:
        raise Http404("No such employee")
    existing = open_offboarding_for(employee=employee)
    if existing is not None:
        return redirect("offboarding_detail", org_slug=org_slug, pk=existing.pk)
    if not employee.is_active:
        messages.error(request, gettext("%(display_name)s has already been offboarded.") % {
            "display_name": employee.display_name})
        return redirect("employee_detail", org_slug=org_slug, pk=employee.pk)
    devices = list(services.held_devices(employee))
    today = timezone.localdate()
    initial = {"effective_date": employee.end_date} if employee.end_date and employee.end_date > today else {}

    def make(data=None):
        return DecisionsForm(data, organization=request.organization, devices=devices, with_date=True,
                             initial=initial, initial_rows=default_rows(
                                 devices=devices, default=request.organization.offboarding_default_action))

    if request.method != "POST":
        return _decisions_page(request, employee=employee, form=make())
    form, applied = _bound_or_applied(request, make)
    if applied or not form.is_valid():
        return _decisions_page(request, employee=employee, form=form, status=200 if applied else 400)
    case = call_service(form, lambda data: services.offboarding_start(
        organization=request.organization, employee=employee, actor=actor_for(request),
        origin=Offboarding.Origin.COCKPIT, effective_date=data.get("effective_date"), decisions=form.decisions(),
    ))
    if case is None:
        error = getattr(form, "domain_error", None)
        return _decisions_page(request, employee=employee, form=form, status=error.status if error else 400)
    return redirect("offboarding_detail", org_slug=org_slug, pk=case.pk)


@require_role("can_manage_people")
def offboarding_edit(request, org_slug, pk):
    """Change the decisions of an open case (the same step of the wizard)."""
    case = _case(request, pk)
    if not case.is_open:
        messages.error(request, gettext("This offboarding can no longer be changed."))
        return redirect("offboarding_detail", org_slug=org_slug, pk=case.pk)
    devices = list(services.held_devices(case.employee))
    rows = default_rows(decisions=offboarding_decisions(offboarding=case), devices=devices,
                        default=request.organization.offboarding_default_action)

    def make(data=None):
        return DecisionsForm(data, organization=request.organization, devices=devices, initial_rows=rows)

    if request.method != "POST":
        return _decisions_page(request, employee=case.employee, form=make(), case=case)
    form, applied = _bound_or_applied(request, make)
    if applied or not form.is_valid():
        return _decisions_page(request, employee=case.employee, form=form, case=case, status=200 if applied else 400)
    done = call_service(form, lambda data: services.offboarding_set_decisions(
        offboarding=case, actor=actor_for(request), decisions=form.decisions()))
    if done is None:
        error = getattr(form, "domain_error", None)
        return _decisions_page(request, employee=case.employee, form=form, case=case,
                               status=error.status if error else 400)
    return redirect("offboarding_detail", org_slug=org_slug, pk=case.pk)


@require_safe
def offboarding_detail(request, org_slug, pk):
    """The summary: each decision, what completion will do (or did), and the buttons to finish."""
    case = _case(request, pk)
    decisions = list(offboarding_decisions(offboarding=case))
    covered = {d.device_id for d in decisions}
    late = [d for d in services.held_devices(case.employee) if d.pk not in covered] if case.is_open else []
    today = timezone.localdate()
    schedule_initial = {"effective_date": case.effective_date} if case.effective_date else {}
    return render(request, "offboarding/offboarding_detail.html", {
        "case": case, "decisions": decisions, "late_devices": late,
        "default_action": request.organization.get_offboarding_default_action_display(),
        "hold_until_wipe": request.organization.offboarding_hold_until_wipe,
        "due_now": case.effective_date is None or case.effective_date <= today,
        "schedule_form": ScheduleForm(initial=schedule_initial), "cancel_form": CancelForm(),
    })


def _act(request, org_slug, pk, call, success: str):
    case = _case(request, pk)
    run_action(request, lambda: call(case), success % {"employee": case.employee.display_name})
    return redirect("offboarding_detail", org_slug=org_slug, pk=case.pk)


@require_role("can_manage_people")
@require_POST
def offboarding_complete(request, org_slug, pk):
    return _act(request, org_slug, pk, lambda case: services.offboarding_complete(
        offboarding=case, actor=actor_for(request)),
        gettext("%(employee)s was offboarded; their devices were handled and wipes are on their way to Fleet."))


@require_role("can_manage_people")
@require_POST
def offboarding_schedule(request, org_slug, pk):
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Give a valid effective date."))
        return redirect("offboarding_detail", org_slug=org_slug, pk=_case(request, pk).pk)
    return _act(request, org_slug, pk, lambda case: services.offboarding_schedule(
        offboarding=case, actor=actor_for(request), effective_date=form.cleaned_data["effective_date"]),
        gettext("The offboarding of %(employee)s is scheduled."))


@require_role("can_manage_people")
@require_POST
def offboarding_cancel(request, org_slug, pk):
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(request, org_slug, pk, lambda case: services.offboarding_cancel(
        offboarding=case, actor=actor_for(request), reason=reason),
        gettext("The offboarding of %(employee)s was cancelled; nothing changed."))


@require_safe
def offboarding_list_view(request, org_slug):
    filterset, rows = filterset_for(OffboardingFilterSet, request, offboarding_list(organization=request.organization))
    return render(request, "offboarding/offboarding_list.html", {"filter": filterset, "page": paginate(request, rows)})


@require_safe
def offboarding_departed(request, org_slug):
    """Departed employees who still hold devices: what IT still has to collect."""
    page = paginate(request, departed_holding_devices(organization=request.organization))
    return render(request, "offboarding/departed_list.html", {"page": page})


@require_role("can_act_on_devices")
@require_POST
def decision_hand_over(request, org_slug, pk):
    decision = OffboardingDevice.objects.for_org(request.organization).select_related("wipe_command").filter(
        pk=pk).first()
    if decision is None:
        raise Http404("No such decision")
    try:
        done = services.offboarding_hand_over(decision=decision, actor=actor_for(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        decision.refresh_from_db()
        (messages.success if done else messages.error)(
            request, gettext("%(device)s was handed over.") % {"device": decision.device} if done
            else decision.readable_note)
    return redirect("device_detail", org_slug=org_slug, pk=decision.device_id)


@require_role("can_manage_settings")
def offboarding_settings(request, org_slug):
    """The default decision and "hold until wiped": organization settings that had no page."""
    organization = request.organization
    initial = {"offboarding_default_action": organization.offboarding_default_action,
               "offboarding_hold_until_wipe": organization.offboarding_hold_until_wipe}
    form = OffboardingSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, lambda data: organization_update_settings(
            organization=organization, actor=actor_for(request), **data))
        if saved:
            default = saved.get_offboarding_default_action_display().lower()
            if saved.offboarding_hold_until_wipe:
                saved_text = gettext("Offboarding settings saved: default %(default)s, reassigned devices held until "
                                     "wiped.")
            else:
                saved_text = gettext("Offboarding settings saved: default %(default)s.")
            messages.success(request, saved_text % {"default": default})
            return redirect("offboarding_settings", org_slug=org_slug)
    return render(request, "offboarding/offboarding_settings.html", {"form": form},
                  status=400 if form.errors else 200)
