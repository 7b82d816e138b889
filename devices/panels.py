"""The devices' panels on the core's employee and group pages (the core does not know devices)."""

from core.panels import Panel
from devices.selectors import device_queryset


def employee_devices_panel(request, employee):
    devices = device_queryset(organization=request.organization).filter(assignee=employee)
    return Panel(template="devices/_employee_devices_panel.html", context={"devices": devices}, slot="beside")


def group_devices_panel(request, group):
    devices = device_queryset(organization=request.organization).filter(groups=group)[:200]
    return Panel(template="devices/_group_devices_panel.html", context={"devices": devices}, slot="beside")
