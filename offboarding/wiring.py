"""Offboarding's audit events, after-sync step and page panels, connected from ``OffboardingConfig.ready``."""

from cockpit.audit import register_events
from cockpit.panels import device_panels, employee_panels

EVENTS = {
    "offboarding.started": "{actor} started the offboarding of {after[employee]}",
    "offboarding.decisions_changed": "{actor} changed the device decisions of the offboarding of {after[employee]}",
    "offboarding.scheduled": "{actor} scheduled the offboarding of {after[employee]} for {after[effective_date]}",
    "offboarding.cancelled": "{actor} cancelled the offboarding of {before[employee]}",
    "offboarding.completed": "{actor} completed the offboarding of {after[employee]}",
    "employee.offboarded": "{actor} offboarded {target}",
    "wipe.sent": "{actor} sent a wipe of {target} to Fleet",
    "wipe.failed": "Fleet did not wipe {target}: {after[error]}",
    "wipe.retried": "{actor} asked again to wipe {target}",
    "wipe.confirmed": "Fleet reported {target} wiped",
}


def connect() -> None:
    from mdm_sync.hooks import after_sync
    from offboarding.panels import device_wipe_panel, employee_offboarding_panel
    from offboarding.services import wipe_confirm_from_sync

    register_events(EVENTS)
    after_sync.register(wipe_confirm_from_sync, order=30, name="offboarding.wipe_confirmation")
    device_panels.register(device_wipe_panel, order=30)
    employee_panels.register(employee_offboarding_panel, order=30)
