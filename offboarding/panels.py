"""The offboarding panel on the employee page (the Offboard button, the case)."""

from core.panels import Panel
from offboarding.selectors import latest_offboarding_for, open_offboarding_for


def employee_offboarding_panel(request, employee):
    case = open_offboarding_for(employee=employee) or latest_offboarding_for(employee=employee)
    can_start = employee.is_active and (case is None or not case.is_open)
    if case is None and not employee.is_active:
        return None
    return Panel(template="offboarding/_employee_panel.html", title="Offboarding",
                 context={"case": case, "can_start": can_start})
