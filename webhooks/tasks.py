"""The webhook jobs: read the audit log for events, send what is due, prune the log.

Beat runs :func:`webhooks_relay` every 10 seconds (one pass over what was written since the last; a pass that read a
full batch queues the next at once), :func:`webhooks_send_due` every minute (backed-off retries, and deliveries
whose task was lost) and :func:`webhooks_prune` daily (the delivery log keeps 30 days). The relay's passes queue
:func:`webhooks_send` for each organization they gave deliveries. Every delivery is claimed before it is sent, so a
redelivered task sends nothing twice.
"""

from celery import shared_task
from django.utils import timezone

from core.dispatch import enqueue_or_log
from core.models import Organization
from webhooks.outbox import messages_prune
from webhooks.relay import relay_pass
from webhooks.sender import deliveries_send_due, organizations_with_due_deliveries


@shared_task(acks_late=True)
def webhooks_relay() -> dict:
    outcome = relay_pass()
    if outcome["more"]:
        enqueue_or_log("webhooks.tasks.webhooks_relay")
    return outcome


@shared_task(acks_late=True)
def webhooks_send(organization_id: int) -> dict:
    """Send the organization's due deliveries; queued by name after commit (``webhooks.outbox.queue_sending``)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    counts = deliveries_send_due(organization=organization)
    if counts["more"]:
        enqueue_or_log("webhooks.tasks.webhooks_send", organization_id)
    return {"organization": organization_id, **counts}


@shared_task
def webhooks_send_due() -> dict:
    """Every minute (beat): queue a sender for each organization with a delivery due."""
    organization_ids = organizations_with_due_deliveries()
    for organization_id in organization_ids:
        webhooks_send.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task
def webhooks_prune() -> dict:
    """Daily (beat): messages older than 30 days leave the delivery log, with their deliveries and attempts."""
    return {"deleted": messages_prune(now=timezone.now())}
