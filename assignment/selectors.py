"""Reads of pre-assignments and CSV imports, always scoped to one organization."""

from assignment.models import CsvImport, PreAssignment


def pre_assignment_list(*, organization):
    return (
        PreAssignment.objects.for_org(organization)
        .select_related("employee", "device")
        .prefetch_related("groups")
        .order_by("-id")
    )


def pending_pre_assignment_for(device) -> PreAssignment | None:
    """The active (waiting or conflicting) pre-assignment naming this device's serial, for the device page."""
    if not device.serial_number:
        return None
    return (
        PreAssignment.objects.for_org(device.organization)
        .filter(serial_number=device.serial_number, status__in=PreAssignment.ACTIVE)
        .select_related("employee").first()
    )


def pre_assignments_of(employee):
    return (
        PreAssignment.objects.for_org(employee.organization)
        .filter(employee=employee, status__in=PreAssignment.ACTIVE).order_by("serial_number")
    )


def csv_import_list(*, organization):
    return CsvImport.objects.for_org(organization).defer("rows").order_by("-id")
