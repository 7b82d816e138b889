"""The panels enrollment adds to the device page (readiness) and the employee page (invitations)."""

from django.utils.translation import gettext

from core.panels import Panel
from devices.issues import issue_help
from devices.models import AvailabilityStatus
from enrollment import selectors


def readiness_panel(request, device):
    if device.availability_status == AvailabilityStatus.ARCHIVED:
        return None
    employee_can_fix = any(help.employee for help in issue_help(device.enrollment_issues))
    return Panel(template="enrollment/_readiness_panel.html", title=gettext("Enrollment readiness"), context={
        "steps": selectors.readiness_steps(device),
        "can_send_fix": employee_can_fix and device.assignee_id is not None and device.assignee.is_active,
    })


def invitations_panel(request, employee):
    return Panel(template="enrollment/_invitations_panel.html", title="Enrollment", context={
        "invitations": list(selectors.invitations_of(employee=employee)[:20]),
        "downloads": list(selectors.installer_downloads_of(employee=employee)[:10]),
    })
