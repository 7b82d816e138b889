"""``device.enrollment_changed``: a device's enrollment status differs from the one last announced.

The sync rewrites enrollment statuses in bulk, with no audit entry for each (only its own moves are audited), so the
event does not come from the log: each device's last announced status is kept (:class:`EnrollmentState`, for the
organizations with an endpoint that wants the event) and compared with the device's. After each sync every device of
the organization is compared (an after-sync step); a device a person or a job changed is compared as soon as the
relay reads that change's audit entry. When an organization starts wanting the event, every device's status is
recorded at once (:func:`enrollment_subscriptions_changed`); a device that appears later is recorded, without an
event, the first time it is compared: its status is in the event that made it matter (``device.assigned`` has it).

Two checks at once announce a change once: the states are read under a row lock, and the second check finds them
already updated. Statuses that change back and forth between two checks are not announced (the event says what is,
and what was announced before).
"""

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.actors import Actor
from devices.models import Device
from webhooks.models import EnrollmentState
from webhooks.outbox import messages_record, subscribed_endpoints
from webhooks.payloads import DEVICE_FIELDS, device_lookups_by_assignee, enrollment_changed_event

EVENT_TYPE = "device.enrollment_changed"
CHUNK = 1000


def enrollment_check(*, organization_id: int, device_ids=None, endpoints=None, now=None) -> int:
    """Compare these devices (all of the organization's with None) with their last announced status and announce the
    changes, in one transaction; returns the number of deliveries recorded."""
    if endpoints is None:
        endpoints = subscribed_endpoints([organization_id]).get(organization_id, [])
    if not any(endpoint.wants(EVENT_TYPE) for endpoint in endpoints):
        return 0
    now = now or timezone.now()
    devices = Device.objects.filter(organization_id=organization_id)
    if device_ids is not None:
        devices = devices.filter(pk__in=list(device_ids))
    differing = list(devices.annotate(known=F("webhook_enrollment__enrollment_status"))
                     .filter(Q(known__isnull=True) | ~Q(known=F("enrollment_status")))
                     .order_by("pk").values(*DEVICE_FIELDS))
    deliveries = 0
    for start in range(0, len(differing), CHUNK):
        with transaction.atomic():
            deliveries += _announce(organization_id, differing[start:start + CHUNK], endpoints, now)
    return deliveries


def _announce(organization_id: int, devices: list[dict], endpoints, now) -> int:
    states = {state.device_id: state for state in EnrollmentState.objects.select_for_update()
              .filter(organization_id=organization_id, device_id__in=[device["pk"] for device in devices])}
    first_seen = [EnrollmentState(organization_id=organization_id, device_id=device["pk"],
                                  enrollment_status=device["enrollment_status"])
                  for device in devices if device["pk"] not in states]
    EnrollmentState.objects.bulk_create(first_seen, ignore_conflicts=True)
    changed = [device for device in devices
               if device["pk"] in states and states[device["pk"]].enrollment_status != device["enrollment_status"]]
    if not changed:
        return 0
    assignees = device_lookups_by_assignee(changed, organization_id)
    events = [enrollment_changed_event(device, previous=states[device["pk"]].enrollment_status,
                                       assignee=assignees.get(device["assignee_id"]), when=now)
              for device in changed]
    for device in changed:
        state = states[device["pk"]]
        state.enrollment_status, state.updated_at = device["enrollment_status"], now
    EnrollmentState.objects.bulk_update([states[device["pk"]] for device in changed],
                                        ["enrollment_status", "updated_at"])
    return len(messages_record(organization_id=organization_id, events=events, endpoints=endpoints))


def enrollment_changes_after_sync(*, organization, run=None, device_ids=(), actor: Actor | None = None) -> dict:
    """After-sync step (order 90, after the steps that assign devices): every device of the organization is compared,
    so a change a step before missed is announced too."""
    return {"deliveries": enrollment_check(organization_id=organization.pk)}


def enrollment_subscriptions_changed(*, organization_id: int) -> None:
    """An endpoint of the organization was added, changed, enabled, disabled or deleted (in the caller's transaction).

    When one wants the event, each device without a recorded status gets its current one, in one set-based statement
    (100,000 devices: a fraction of a second): changes from now on are announced. When none does any more, the states
    go, so an endpoint that wants it again starts from the statuses of that moment, not from stale ones."""
    endpoints = subscribed_endpoints([organization_id]).get(organization_id, [])
    if not any(endpoint.wants(EVENT_TYPE) for endpoint in endpoints):
        EnrollmentState.objects.filter(organization_id=organization_id).delete()
        return
    quote, now = connection.ops.quote_name, connection.ops.adapt_datetimefield_value(timezone.now())
    states, devices = quote(EnrollmentState._meta.db_table), quote(Device._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {states} (organization_id, device_id, enrollment_status, created_at, updated_at) "
            f"SELECT d.organization_id, d.id, d.enrollment_status, %s, %s FROM {devices} d "
            f"WHERE d.organization_id = %s AND NOT EXISTS (SELECT 1 FROM {states} s WHERE s.device_id = d.id)",
            [now, now, organization_id])
