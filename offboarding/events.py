from django.utils.translation import gettext_lazy as _

"""Offboarding's audit event codes, registered from ``offboarding.wiring``."""

EVENTS = {
    "offboarding.started": _("{actor} started the offboarding of {after[employee]}"),
    "offboarding.decisions_changed": _("{actor} changed the device decisions of the offboarding of {after[employee]}"),
    "offboarding.scheduled": _("{actor} scheduled the offboarding of {after[employee]} for {after[effective_date]}"),
    "offboarding.cancelled": _("{actor} cancelled the offboarding of {before[employee]}"),
    "offboarding.completed": _("{actor} completed the offboarding of {after[employee]}"),
    "employee.offboarded": _("{actor} offboarded {target}"),
}

# Reasons stored as a code and parameters (core.events.Phrase), shown in the reader's language.
PHRASES = {
    "offboarding.completed": _("Offboarding of %(name)s"),  # the reason of each device move a completion makes
    "offboarding.no_longer_held": _("No longer held at completion."),  # a decision's note
}
