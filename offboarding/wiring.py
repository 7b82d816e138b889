"""Offboarding's audit events, hook steps and page panels, connected from ``OffboardingConfig.ready``."""

from core.audit import register_events
from core.panels import employee_panels

EVENTS = {
    "offboarding.started": "{actor} started the offboarding of {after[employee]}",
    "offboarding.decisions_changed": "{actor} changed the device decisions of the offboarding of {after[employee]}",
    "offboarding.scheduled": "{actor} scheduled the offboarding of {after[employee]} for {after[effective_date]}",
    "offboarding.cancelled": "{actor} cancelled the offboarding of {before[employee]}",
    "offboarding.completed": "{actor} completed the offboarding of {after[employee]}",
    "employee.offboarded": "{actor} offboarded {target}",
}


def connect() -> None:
    from core.hooks import employees_leaving
    from devices.hooks import command_settled
    from offboarding.panels import employee_offboarding_panel
    from offboarding.selectors import employees_leaving as open_cases
    from offboarding.services import decision_settle

    register_events(EVENTS)
    employees_leaving.register(open_cases, order=10, name="offboarding.open_cases")
    command_settled.register(decision_settle, order=10, name="offboarding.decision_settle")
    employee_panels.register(employee_offboarding_panel, order=30)
