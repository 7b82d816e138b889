"""Offboarding's audit event codes, registered from ``offboarding.wiring``."""

EVENTS = {
    "offboarding.started": "{actor} started the offboarding of {after[employee]}",
    "offboarding.decisions_changed": "{actor} changed the device decisions of the offboarding of {after[employee]}",
    "offboarding.scheduled": "{actor} scheduled the offboarding of {after[employee]} for {after[effective_date]}",
    "offboarding.cancelled": "{actor} cancelled the offboarding of {before[employee]}",
    "offboarding.completed": "{actor} completed the offboarding of {after[employee]}",
    "employee.offboarded": "{actor} offboarded {target}",
}
