"""The Fleet jobs: the sync, and the device commands (wipes, removals from Fleet).

Beat fans out one sync per connected organization; the lease in :func:`mdm_sync.sync.sync_organization`
(``core.leases``: short, renewed while the run works) keeps two runs of one organization apart, so a doubled task
records itself as skipped instead of syncing twice at once. A task redelivered after its worker died (``acks_late``)
finds that worker's lease lapsed within ``JOB_LEASE_SECONDS``: it marks the dead run abandoned and syncs.
Each command is claimed before it is sent, so a redelivered sender sends nothing twice."""

from celery import shared_task

from core.actors import Actor
from core.models import Organization
from devices.commands import organizations_with_due_commands
from mdm_sync.commands import commands_send_due
from mdm_sync.labels import group_labels_reconcile, organizations_with_due_labels
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.snapshots import daily_snapshot_take
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


@shared_task
def retry_device_commands() -> dict:
    """Every 10 minutes (beat): queue a sender for each organization with a command due (new or backed off)."""
    organization_ids = organizations_with_due_commands()
    for organization_id in organization_ids:
        send_device_commands.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def send_device_commands(organization_id: int) -> dict:
    """Send the organization's due wipes and removals to Fleet (each claimed first: a redelivery sends nothing
    twice). ``devices`` queues this task by name after a move asks for a command."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return {"organization": organization_id, **commands_send_due(organization=organization)}


@shared_task(acks_late=True)
def sync_group_labels(organization_id: int, group_ids: list[int] | None = None) -> dict:
    """Bring these groups' Fleet labels (all with None) and deleted groups' labels in line; queued by name after a
    membership change (``mdm_sync.labels.queue_label_sync``). Each row is leased: a redelivery sends nothing twice."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return {"organization": organization_id, **group_labels_reconcile(organization=organization, group_ids=group_ids)}


@shared_task
def retry_group_labels() -> dict:
    """Every 10 minutes (beat): reconcile the labels of each organization with a failed label due or a deleted
    group's label still in Fleet."""
    organization_ids = organizations_with_due_labels()
    for organization_id in organization_ids:
        sync_group_labels.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task
def daily_snapshots_all() -> dict:
    """Once a day, late (beat): queue one snapshot per organization, for the dashboard's trend charts."""
    organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for organization_id in organization_ids:
        daily_snapshot_task.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def daily_snapshot_task(organization_id: int) -> dict:
    """Record today's figures of one organization; a redelivery or a second run updates the same row."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    snapshot = daily_snapshot_take(organization=organization)
    return {"organization": organization_id, "day": snapshot.day.isoformat(), "devices": snapshot.devices}
