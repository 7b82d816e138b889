"""Pre-assignment panels on the device and employee pages, registered from ``assignment.wiring``."""

from django.utils.translation import gettext

from assignment.selectors import pending_pre_assignment_for, pre_assignments_of
from core.panels import Panel


def device_panel(request, device):
    """"Pre-assigned to …, awaiting activation" (or the conflict to settle) on the device page."""
    pa = pending_pre_assignment_for(device)
    if pa is None:
        return None
    return Panel(template="assignment/_device_panel.html", context={"pre_assignment": pa}, title="Pre-assignment")


def employee_panel(request, employee):
    pending = list(pre_assignments_of(employee)[:50])
    if not pending:
        return None
    return Panel(template="assignment/_employee_panel.html", context={"pre_assignments": pending},
                 title=gettext("Pre-assigned devices"))
