"""What webhooks can say, and what the cockpit records about them.

``EVENT_TYPES``: the webhook event types an endpoint subscribes to, each with the sentence the settings page shows
(their payloads: ``webhooks.payloads``, documented in the OpenAPI schema by ``webhooks.schema``). ``PING`` is sent by
the test button only, to the endpoint tested. ``EVENTS``: this app's audit event codes (``core.events``), registered
from ``webhooks.wiring``.
"""

from django.utils.translation import gettext_lazy as _

EVENT_TYPES = {
    "device.assigned": _("A device was given to an employee (also the new owner of a reassignment)."),
    "device.unassigned": _("A device left its owner: unassigned, returned to stock, archived, or reassigned."),
    "device.enrollment_changed": _("A device's enrollment status changed (the Fleet sync, a move, an unenrollment)."),
    "device.wipe_confirmed": _("Fleet reported a requested wipe done."),
    "device.wipe_failed": _("A requested wipe failed: Fleet refused it, or it was given up."),
    "employee.created": _("An employee was added (API, cockpit, CSV import, SCIM)."),
    "offboarding.completed": _("An offboarding was completed, with what happened to each device."),
    "sync.failed": _("A Fleet sync failed."),
}
PING = "ping"

EVENTS = {
    "webhook_endpoint.created": _("{actor} added the webhook endpoint {target}"),
    "webhook_endpoint.updated": _("{actor} edited the webhook endpoint {target}"),
    "webhook_endpoint.deleted": _("{actor} deleted the webhook endpoint {target}"),
    "webhook_endpoint.secret_rotated": _("{actor} rotated the signing secret of the webhook endpoint {target}"),
    "webhook_endpoint.enabled": _("{actor} enabled the webhook endpoint {target}"),
    "webhook_endpoint.disabled": _("{actor} disabled the webhook endpoint {target}: {after[reason]}"),
    "webhook_endpoint.tested": _("{actor} sent a test event to the webhook endpoint {target}: {after[result]}"),
    "webhook_delivery.redelivered": _("{actor} asked to deliver {target} again"),
}
