"""Offboarding jobs: the daily run of due cases and the wipe sender/retrier, one task per organization."""

from celery import shared_task

from cockpit.models import Organization
from offboarding import services


@shared_task
def run_due_offboardings() -> dict:
    """Daily (beat): queue one task per organization with a scheduled case whose day has come."""
    organization_ids = services.organizations_with_due_offboardings()
    for organization_id in organization_ids:
        run_due_offboardings_for.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def run_due_offboardings_for(organization_id: int) -> dict:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return {"organization": organization_id, **services.offboarding_run_due(organization=organization)}


@shared_task
def retry_pending_wipes() -> dict:
    """Every 10 minutes (beat): queue a sender for each organization with a wipe due (new or backed off)."""
    organization_ids = services.organizations_with_due_wipes()
    for organization_id in organization_ids:
        send_wipes_task.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def send_wipes_task(organization_id: int) -> dict:
    """Send the organization's due wipes to Fleet (each claimed first: a redelivery sends nothing twice)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return {"organization": organization_id, **services.wipe_send_due(organization=organization)}
