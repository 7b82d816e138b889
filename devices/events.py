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
