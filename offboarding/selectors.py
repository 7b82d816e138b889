"""Reads of offboarding that more than one caller needs, always scoped to one organization."""

from django.db.models import Count, Q

from core.models import Employee
from offboarding.models import Offboarding, OffboardingDevice


def offboarding_list(*, organization):
    return (
        Offboarding.objects.for_org(organization)
        .select_related("employee")
        .annotate(
            device_count=Count("decisions", distinct=True),
            wipe_count=Count("decisions", filter=Q(decisions__wipe=True), distinct=True),
        )
        .order_by("-created_at", "-id")
    )


def employees_leaving(*, organization, employee_ids=None) -> dict:
    """``core.hooks.employees_leaving`` step: the employees with a draft or scheduled case, and why."""
    from django.utils.formats import date_format
    from django.utils.translation import gettext

    cases = Offboarding.objects.for_org(organization).filter(status__in=Offboarding.OPEN)
    if employee_ids is not None:
        cases = cases.filter(employee_id__in=employee_ids)
    leaving = {}
    for employee_id, status, effective_date in cases.values_list("employee_id", "status", "effective_date"):
        if status == Offboarding.Status.SCHEDULED and effective_date:
            why = gettext("their offboarding is scheduled for %(date)s") % {
                "date": date_format(effective_date, "DATE_FORMAT")}
        else:
            why = gettext("their offboarding has been started (draft)")
        leaving[employee_id] = why
    return {"employees": leaving}


def offboarding_get(*, organization, pk) -> Offboarding:
    return Offboarding.objects.for_org(organization).select_related("employee").get(pk=pk)


def offboarding_decisions(*, offboarding: Offboarding):
    return (
        OffboardingDevice.objects.for_org(offboarding.organization)
        .filter(offboarding=offboarding)
        .select_related("device", "reassign_to", "wipe_command")
        .order_by("pk")
    )


def open_offboarding_for(*, employee: Employee) -> Offboarding | None:
    return (
        Offboarding.objects.for_org(employee.organization)
        .filter(employee=employee, status__in=Offboarding.OPEN)
        .first()
    )


def latest_offboarding_for(*, employee: Employee) -> Offboarding | None:
    return Offboarding.objects.for_org(employee.organization).filter(employee=employee).order_by("-pk").first()


def departed_holding_devices(*, organization):
    """Offboarded employees who still hold at least one device (a report for IT to chase)."""
    return (
        Employee.objects.for_org(organization)
        .filter(status=Employee.Status.OFFBOARDED)
        .annotate(held=Count("devices", filter=~Q(devices__availability_status="archived")))
        .filter(held__gt=0)
        .order_by("-offboarded_at", "full_name", "id")
    )
