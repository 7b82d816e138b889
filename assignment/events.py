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

# The reasons assignment gives a device move, stored as a code and parameters (core.events.Phrase) and shown in the
# reader's language.
PHRASES = {
    "pre_assignment.applied": _("Pre-assignment #%(id)s"),
    "pre_assignment.conflict_settled": _("Pre-assignment conflict settled by %(label)s"),
    # A pre-assignment's note (why it is a conflict, how it was settled) and its settlement's decision.
    "pre_assignment.device_assigned": _("The device is assigned to %(email)s."),
    "pre_assignment.device_shared": _("The device is shared: it has a responsible technician, not an owner."),
    "pre_assignment.already_assigned": _("The device was already assigned to this employee."),
    "pre_assignment.settled_kept": _("Conflict settled: kept %(owner)s."),
    "pre_assignment.settled_kept_owner": _("Conflict settled: kept the current owner."),
    "pre_assignment.settled_assigned": _("Conflict settled: assigned to the pre-assigned employee."),
    "pre_assignment.employee_offboarded": _("The employee was offboarded."),
    "pre_assignment.decision_kept": _("kept the current owner"),
    "pre_assignment.decision_assigned": _("assigned to %(email)s"),
    "csv_import.line": _("CSV import #%(id)s, line %(line)s"),
    "suggestion.accepted": _("Suggestion #%(id)s, confidence %(confidence)s"),
    "suggestion.auto_accepted": _("Auto mode: suggestion #%(id)s, confidence %(confidence)s"),
}
