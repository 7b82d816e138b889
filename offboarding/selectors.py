"""Reads of offboarding that more than one caller needs, always scoped to one organization."""

from django.db.models import Count, Q

from cockpit.models import Employee
from offboarding.models import Offboarding, OffboardingDevice, WipeRequest


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


def offboarding_get(*, organization, pk) -> Offboarding:
    return Offboarding.objects.for_org(organization).select_related("employee").get(pk=pk)


def offboarding_decisions(*, offboarding: Offboarding):
    return (
        OffboardingDevice.objects.for_org(offboarding.organization)
        .filter(offboarding=offboarding)
        .select_related("device", "reassign_to", "wipe_request")
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


def wipes_for_device(*, device, limit: int = 5):
    return (
        WipeRequest.objects.for_org(device.organization)
        .filter(device=device)
        .select_related("decision__offboarding__employee", "decision__reassign_to")
        .order_by("-pk")[:limit]
    )


def held_decision_for_device(*, device) -> OffboardingDevice | None:
    return (
        OffboardingDevice.objects.for_org(device.organization)
        .filter(device=device, status=OffboardingDevice.Status.AWAITING_WIPE)
        .select_related("reassign_to", "offboarding__employee")
        .first()
    )
