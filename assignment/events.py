"""The assignment app's audit event codes (pre-assignment, CSV import, suggestion), registered from
``assignment.wiring``."""

EVENTS = {
    "pre_assignment.created": "{actor} pre-assigned {target} to {after[employee]}",
    "pre_assignment.updated": "{actor} edited the pre-assignment {target}",
    "pre_assignment.cancelled": "{actor} cancelled the pre-assignment {target}",
    "pre_assignment.applied": "{actor} applied the pre-assignment {target} to the device {after[device]}",
    "pre_assignment.conflict": "{actor} found the pre-assignment {target} in conflict: {after[note]}",
    "pre_assignment.held": "{actor} kept the pre-assignment {target} waiting: {after[note]}",
    "pre_assignment.settled": "{actor} settled the pre-assignment conflict {target}: {after[decision]}",
    "csv_import.committed": "{actor} committed {target}: {after[summary]}",
    "suggestion.refreshed": "{actor} computed assignment suggestions ({after[mode]} mode): {after[created]} new, "
    "{after[superseded]} withdrawn",
    "suggestion.accepted": "{actor} accepted the suggestion to assign {target} to {after[employee]} "
    "(confidence {after[confidence]})",
    "suggestion.auto_assigned": "{actor} assigned {target} to {after[employee]} automatically "
    "(suggestion, confidence {after[confidence]})",
    "suggestion.rejected": "{actor} rejected the suggestion to assign {target} to {after[employee]}",
}
