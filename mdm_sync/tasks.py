"""The Fleet sync jobs. Beat fans out one task per connected organization; the lock in
:func:`mdm_sync.sync.sync_organization` keeps two runs of one organization apart, so a
redelivered or doubled task records itself as skipped instead of syncing twice at once."""

from celery import shared_task

from cockpit.actors import Actor
from cockpit.models import Organization
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.sync import sync_organization


@shared_task
def sync_all_organizations() -> dict:
    """Every 30 minutes (beat): queue one sync per organization with an enabled Fleet connection."""
    connections = FleetConnection.objects.filter(enabled=True).order_by("organization_id")
    organization_ids = list(connections.values_list("organization_id", flat=True))
    for organization_id in organization_ids:
        sync_organization_task.delay(organization_id, SyncRun.Trigger.SCHEDULE)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def sync_organization_task(organization_id: int, trigger: str = SyncRun.Trigger.SCHEDULE,
                           actor_label: str = "fleet_sync") -> dict:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    run = sync_organization(organization=organization, trigger=trigger, actor=Actor.system(actor_label))
    return {"organization": organization_id, "run": run.pk, "status": run.status}
