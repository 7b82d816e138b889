"""The offboarding panels on the employee page (the Offboard button, the case) and the device page (wipes)."""

from cockpit.panels import Panel
from offboarding.selectors import (
    held_decision_for_device,
    latest_offboarding_for,
    open_offboarding_for,
    wipes_for_device,
)


def employee_offboarding_panel(request, employee):
    case = open_offboarding_for(employee=employee) or latest_offboarding_for(employee=employee)
    can_start = employee.is_active and (case is None or not case.is_open)
    if case is None and not employee.is_active:
        return None
    return Panel(template="offboarding/_employee_panel.html", title="Offboarding",
                 context={"case": case, "can_start": can_start})


def device_wipe_panel(request, device):
    wipes = list(wipes_for_device(device=device))
    held = held_decision_for_device(device=device)
    if not wipes and held is None:
        return None
    return Panel(template="offboarding/_device_panel.html", title="Wipe", context={"wipes": wipes, "held": held})
