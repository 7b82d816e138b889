"""The outbox: events become messages and deliveries in the transaction that found them; sent after commit.

Whatever finds events (``webhooks.relay`` reading the audit log and the sync runs, the enrollment states, the test
button) records them here, in its own transaction. Nothing is sent before that transaction commits, and a broker that
is down only delays the sending: the deliveries are rows, and the periodic job sends what is due.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from core.dispatch import enqueue_or_log
from webhooks.models import Delivery, Endpoint, Message
from webhooks.payloads import Event

SEND_TASK = "webhooks.tasks.webhooks_send"


def queue_sending(organization_id: int) -> None:
    """Ask a worker to send the organization's due deliveries (by task name: services and tasks do not import each
    other). A broker that is down: the periodic job sends them."""
    enqueue_or_log(SEND_TASK, organization_id)


def subscribed_endpoints(organization_ids=None) -> dict[int, list[Endpoint]]:
    """The enabled endpoints, by organization (all organizations, or these)."""
    endpoints = Endpoint.objects.filter(enabled=True).order_by("pk")
    if organization_ids is not None:
        endpoints = endpoints.filter(organization_id__in=list(organization_ids))
    grouped: dict[int, list[Endpoint]] = {}
    for endpoint in endpoints:
        grouped.setdefault(endpoint.organization_id, []).append(endpoint)
    return grouped


def wanted_types(endpoints: list[Endpoint]) -> set[str]:
    return {event_type for endpoint in endpoints for event_type in endpoint.event_types}


def messages_record(*, organization_id: int, events: list[Event], endpoints: list[Endpoint]) -> list[Delivery]:
    """Record ``events`` (one organization's) for the ``endpoints`` that want each and existed when it happened, in
    the caller's transaction; returns the deliveries. An event whose origin was recorded before is left out (a
    change never makes the same event twice), and so is an event no endpoint wants."""
    origins = {(event.origin, event.type) for event in events if event.origin}
    if origins:
        known = set(Message.objects.filter(organization_id=organization_id,
                                           origin__in={origin for origin, _type in origins})
                    .values_list("origin", "event_type"))
        events = [event for event in events if (event.origin, event.type) not in known]
    planned = []
    for event in events:
        targets = [endpoint for endpoint in endpoints
                   if endpoint.wants(event.type) and endpoint.created_at <= event.occurred_at]
        if targets:
            planned.append((Message(organization_id=organization_id, event_type=event.type,
                                    public_id=Message.new_public_id(), payload=event.envelope(),
                                    origin=event.origin, occurred_at=event.occurred_at), targets))
    if not planned:
        return []
    Message.objects.bulk_create([message for message, _targets in planned], batch_size=500)
    deliveries = Delivery.objects.bulk_create([
        Delivery(organization_id=organization_id, endpoint=endpoint, message=message,
                 next_attempt_at=message.occurred_at)
        for message, targets in planned for endpoint in targets
    ], batch_size=500)
    transaction.on_commit(lambda: queue_sending(organization_id))
    return deliveries


LOG_RETENTION = timedelta(days=30)


def messages_prune(*, now: datetime) -> int:
    """The delivery log keeps 30 days: older messages go with their deliveries and attempts, unless one of their
    deliveries is still waiting to be sent. Returns how many messages went."""
    waiting = Delivery.objects.filter(message=OuterRef("pk"), status=Delivery.Status.PENDING)
    old = Message.objects.filter(created_at__lt=now - LOG_RETENTION).exclude(Exists(waiting))
    deleted, by_model = old.delete()
    return by_model.get(Message._meta.label, 0)
