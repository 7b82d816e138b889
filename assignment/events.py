from django.utils.translation import gettext_lazy as _

"""The assignment app's audit event codes (pre-assignment, CSV import, suggestion), registered from
``assignment.wiring``."""

EVENTS = {
    "pre_assignment.created": _("{actor} pre-assigned {target} to {after[employee]}"),
    "pre_assignment.updated": _("{actor} edited the pre-assignment {target}"),
    "pre_assignment.cancelled": _("{actor} cancelled the pre-assignment {target}"),
    "pre_assignment.applied": _("{actor} applied the pre-assignment {target} to the device {after[device]}"),
    "pre_assignment.conflict": _("{actor} found the pre-assignment {target} in conflict: {after[note]}"),
    "pre_assignment.held": _("{actor} kept the pre-assignment {target} waiting: {after[note]}"),
    "pre_assignment.settled": _("{actor} settled the pre-assignment conflict {target}: {after[decision]}"),
    "csv_import.committed": _("{actor} committed {target}: {after[summary]}"),
    "suggestion.refreshed": _("{actor} computed assignment suggestions ({after[mode]} mode): {after[created]} new, "
    "{after[superseded]} withdrawn"),
    "suggestion.accepted": _("{actor} accepted the suggestion to assign {target} to {after[employee]} "
    "(confidence {after[confidence]})"),
    "suggestion.auto_assigned": _("{actor} assigned {target} to {after[employee]} automatically "
    "(suggestion, confidence {after[confidence]})"),
    "suggestion.rejected": _("{actor} rejected the suggestion to assign {target} to {after[employee]}"),
}
