"""The devices app's audit event codes, registered from ``devices.wiring``."""

EVENTS = {
    "device.created": "{actor} added the device {target}",
    "device.updated": "{actor} edited the device {target}",
    "device.assigned": "{actor} assigned {target} to {after[assignee]}",
    "device.unassigned": "{actor} unassigned {target} from {before[assignee]}",
    "device.reassigned": "{actor} reassigned {target} from {before[assignee]} to {after[assignee]}",
    "device.returned_to_stock": "{actor} returned {target} to stock",
    "device.archived": "{actor} archived {target}",
    "device.restored": "{actor} restored {target} from the archive",
    "device.unenrolled": "{actor} unenrolled {target} from the MDM",
}
