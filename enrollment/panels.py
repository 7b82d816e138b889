"""The panels enrollment adds to the device page (readiness) and the employee page (invitations)."""

from cockpit.panels import Panel
from devices.models import AvailabilityStatus
from enrollment import selectors


def readiness_panel(request, device):
    if device.availability_status == AvailabilityStatus.ARCHIVED:
        return None
    return Panel(template="enrollment/_readiness_panel.html", title="Enrollment readiness", context={
        "steps": selectors.readiness_steps(device),
    })


def invitations_panel(request, employee):
    return Panel(template="enrollment/_invitations_panel.html", title="Enrollment", context={
        "invitations": list(selectors.invitations_of(employee=employee)[:20]),
        "downloads": list(selectors.installer_downloads_of(employee=employee)[:10]),
    })
