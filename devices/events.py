from django.utils.translation import gettext_lazy as _

"""The devices app's audit event codes, registered from ``devices.wiring``."""

EVENTS = {
    "device.created": _("{actor} added the device {target}"),
    "device.updated": _("{actor} edited the device {target}"),
    "device.assigned": _("{actor} assigned {target} to {after[assignee]}"),
    "device.unassigned": _("{actor} unassigned {target} from {before[assignee]}"),
    "device.reassigned": _("{actor} reassigned {target} from {before[assignee]} to {after[assignee]}"),
    "device.returned_to_stock": _("{actor} returned {target} to stock"),
    "device.archived": _("{actor} archived {target}"),
    "device.restored": _("{actor} restored {target} from the archive"),
    "device.unenrolled": _("{actor} unenrolled {target} from the MDM"),
}

# Reasons the services give a move, stored as a code and parameters (core.events.Phrase) and shown in the reader's
# language; registered from ``devices.wiring``.
PHRASES = {
    "devices.held_until_wipe": _("Held in stock until its wipe is confirmed, then goes to %(name)s"),
    "devices.handed_over": _("Wipe confirmed: handed over to %(name)s"),
    # Why a device held until its wipe was not handed over (the command's and the offboarding decision's note).
    "devices.assigned_meanwhile": _("%(device)s was assigned to %(other)s meanwhile; not handed over."),
    "devices.not_handed_over": _("Not handed over: %(reason)s"),
    "devices.command_gave_up": _("Gave up after %(attempts)s attempts: %(error)s"),  # Fleet's error, verbatim
}
