"""Where offboarding connects to the apps below it, called once from ``OffboardingConfig.ready``."""

from core.audit import register_events, register_phrases
from core.hooks import employees_leaving
from core.panels import employee_panels
from devices.hooks import command_settled
from offboarding.events import EVENTS, PHRASES
from offboarding.panels import employee_offboarding_panel
from offboarding.selectors import employees_leaving as open_cases
from offboarding.services import decision_settle


def connect() -> None:
    register_events(EVENTS)
    register_phrases(PHRASES)
    employees_leaving.register(open_cases, order=10, name="offboarding.open_cases")
    command_settled.register(decision_settle, order=10, name="offboarding.decision_settle")
    employee_panels.register(employee_offboarding_panel, order=30)
