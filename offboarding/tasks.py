"""Offboarding jobs: the daily run of due cases, one task per organization (wipes are ``mdm_sync``'s)."""

from celery import shared_task

from core.models import Organization
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
