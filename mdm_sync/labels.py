"""Groups reach Fleet: each group with enrolled devices is a Fleet manual label holding exactly their hosts.

A group's label is created the first time the group has an enrolled device (a device with a Fleet host id that is
not archived). From then on a reconcile compares, per group, the hosts Fleet was last told (``GroupLabel.hosts_digest``)
and the label's name with what the group wants now, and calls Fleet once for a group that differs — replacing the
label's hosts (and name) in one ``PATCH`` — and not at all when nothing did. A deleted group's label is deleted.

Triggers: ``core.hooks.groups_changed`` (membership edits, renames, deletions) queues :data:`RECONCILE_TASK`
after commit; the after-sync step (order 60) reconciles every group; the beat retries failed labels. A failure is
stored on the group's row (shown on the group page), retried with a backoff, and never fails the sync or the edit.
Each row is leased while its call runs, so two workers (or a redelivered task) never send one group twice.
The organization turns it all off with ``FleetConnection.sync_groups_as_labels``: then nothing is sent at all.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.actors import Actor
from core.audit import audit_record
from core.dispatch import enqueue_or_log, retry_delay
from core.errors import InvalidInput
from core.models import Group, Organization
from devices.models import AvailabilityStatus, Device
from mdm_sync.fleet import FleetClient, FleetError, FleetLabel, FleetNotFound
from mdm_sync.models import FleetConnection, GroupLabel
from mdm_sync.services import fleet_client_for

LABEL_NAME = "Cockpit: {name}"  # Fleet's label names are global to its server: keep ours apart from its builtins
RECONCILE_TASK = "mdm_sync.tasks.sync_group_labels"
LEASE = timedelta(minutes=2)  # a claimed row is not claimed again while its call may be running
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
MAX_ROUNDS = 3  # a group changed again while its call ran is sent again, at most this many times per run
COALESCE_SECONDS = 5  # edits within this window (a CSV import, a bulk move) share one reconcile: one call per group
ACTOR = "Fleet labels"


def label_name(group_name: str) -> str:
    return LABEL_NAME.format(name=group_name)


def _marker(organization: Organization, group_id: int) -> str:
    return f"[cockpit:{organization.slug}:{group_id}]"


def label_description(organization: Organization, group_id: int) -> str:
    """Says who owns the label; its marker lets a label whose creation answer was lost be found again (and never
    another organization's label of the same name on a shared Fleet)."""
    return (f"The devices of a Fleet Cockpit group, kept by the cockpit: changes made in Fleet are overwritten. "
            f"{_marker(organization, group_id)}")


def hosts_digest(host_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(str(i) for i in sorted(set(host_ids))).encode()).hexdigest()


def backoff(attempts: int) -> timedelta:
    """5 min, 15 min, 45 min, 2 h 15, then 6 h between tries."""
    return retry_delay(attempts, first=BACKOFF_BASE, longest=BACKOFF_MAX)


# --- reads -----------------------------------------------------------------------------------


def labels_connection(organization: Organization) -> FleetConnection | None:
    """The connection to send labels through, or None when not connected, the sync is off, or labels are off."""
    connection = FleetConnection.objects.for_org(organization).first()
    if connection is None or not connection.enabled or not connection.sync_groups_as_labels:
        return None
    return connection


def wanted_hosts(*, organization: Organization, group_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """{group id: Fleet host ids of its enrolled devices (with a host id, not archived)}, in one query."""
    rows = Device.groups.through.objects.filter(
        device__organization=organization, group__organization=organization, device__fleet_host_id__isnull=False,
    ).exclude(device__availability_status=AvailabilityStatus.ARCHIVED)
    if group_ids is not None:
        rows = rows.filter(group_id__in=list(group_ids))
    wanted: dict[int, set[int]] = defaultdict(set)
    for group_id, host_id in rows.values_list("group_id", "device__fleet_host_id"):
        wanted[group_id].add(host_id)
    return wanted


def _differs(row: GroupLabel | None, *, name: str, hosts: set[int]) -> bool:
    if row is None or row.fleet_label_id is None:
        return bool(hosts)  # created on first use: a group without enrolled devices needs no label yet
    return row.label_name != label_name(name) or row.hosts_digest != hosts_digest(hosts)


def organizations_with_due_labels(*, now: datetime | None = None) -> list[int]:
    """Organizations (labels on) with a failed label due for a retry, a deleted group's label, or a stuck row."""
    now = now or timezone.now()
    due = (Q(status=GroupLabel.Status.FAILED, next_attempt_at__lte=now) | Q(group__isnull=True)
           | Q(status=GroupLabel.Status.PENDING, updated_at__lte=now - LEASE))
    on = FleetConnection.objects.filter(enabled=True, sync_groups_as_labels=True).values("organization_id")
    return sorted(set(GroupLabel.objects.filter(due, organization_id__in=on).values_list("organization_id", flat=True)))


# --- triggers --------------------------------------------------------------------------------


def queue_label_sync(organization_id: int, group_ids: list[int] | None = None, *, countdown: float = 0) -> None:
    """Ask a worker to reconcile these groups' labels (all of them with None). By task name: services and tasks do
    not import each other."""
    enqueue_or_log(RECONCILE_TASK, organization_id, group_ids, countdown=countdown or None)


def _coalesce_key(organization_id: int) -> str:
    return f"group-labels-queued:{organization_id}"


def _queue_coalesced(organization_id: int) -> None:
    """One reconcile of every group for all the edits of the next few seconds: a CSV import moving 500 devices into
    a group sends that group once, not 500 times. The reconcile frees the key as it starts, so an edit committed
    after that queues the next one; a lost task frees it by expiry."""
    if cache.add(_coalesce_key(organization_id), 1, COALESCE_SECONDS * 12):
        queue_label_sync(organization_id, None, countdown=COALESCE_SECONDS)


def group_labels_changed(*, organization: Organization, group_ids) -> dict:
    """``core.hooks.groups_changed`` step: queue a reconcile after commit (coalesced), when labels are on."""
    if labels_connection(organization) is None:
        return {"queued": False}
    organization_id = organization.pk
    transaction.on_commit(lambda: _queue_coalesced(organization_id))
    return {"queued": True}


def group_labels_after_sync(*, organization: Organization, run=None, device_ids=(), actor: Actor | None = None) -> dict:
    """After-sync step (order 60): devices enrolled, archived or re-enrolled change the groups' hosts; failed labels
    are retried now. Counts go on the run's record; a label failure is stored on its group, never raised."""
    return group_labels_reconcile(organization=organization)


# --- the reconcile ---------------------------------------------------------------------------


class _Client:
    """The Fleet client, opened on the first call that needs one (a run with nothing to send opens nothing)."""

    def __init__(self, connection: FleetConnection, client: FleetClient | None):
        self.connection, self.client, self.own = connection, client, False

    def get(self) -> FleetClient:
        if self.client is None:
            self.client, self.own = fleet_client_for(self.connection, retries=1), True
        return self.client

    def close(self) -> None:
        if self.own and self.client is not None:
            self.client.close()


def group_labels_reconcile(*, organization: Organization, group_ids: Iterable[int] | None = None,
                           client: FleetClient | None = None) -> dict:
    """Bring the labels of these groups (every group with None) and of deleted groups in line with the cockpit.

    Returns counts: ``created``, ``updated``, ``deleted``, ``unchanged``, ``failed``, ``busy`` (leased by another
    worker, which sends the latest state when it finishes), or ``{"off": True}`` when labels are off.
    """
    if group_ids is None:
        cache.delete(_coalesce_key(organization.pk))  # edits from now on queue the next reconcile
    connection = labels_connection(organization)
    if connection is None:
        return {"off": True}
    counts = dict.fromkeys(("created", "updated", "deleted", "unchanged", "failed", "busy"), 0)
    groups = Group.objects.for_org(organization)
    rows = GroupLabel.objects.for_org(organization)
    if group_ids is not None:
        group_ids = sorted(set(group_ids))
        groups = groups.filter(pk__in=group_ids)
        rows = rows.filter(Q(group_id__in=group_ids) | Q(group__isnull=True))
    names = dict(groups.values_list("pk", "name"))
    rows_by_group = {row.group_id: row for row in rows if row.group_id is not None}
    orphans = [row for row in rows if row.group_id is None]
    wanted = wanted_hosts(organization=organization, group_ids=list(names))
    fleet = _Client(connection, client)
    try:
        for group_id, name in sorted(names.items()):
            row = rows_by_group.get(group_id)
            if not _differs(row, name=name, hosts=wanted.get(group_id, set())):
                if row is not None and row.status != GroupLabel.Status.SYNCED and row.fleet_label_id is not None:
                    _mark_in_line(row)  # a failed change undone since: Fleet already has what the group wants
                elif row is not None and row.fleet_label_id is None:
                    GroupLabel.objects.filter(_free(), pk=row.pk).delete()  # no enrolled device left: nothing to create
                counts["unchanged"] += 1
                continue
            counts[_reconcile_group(organization, group_id, fleet)] += 1
        for row in orphans:
            counts[_delete_label(organization, row, fleet)] += 1
    finally:
        fleet.close()
    return counts


def _free() -> Q:
    """Rows no worker holds: never leased, released, or leased by a worker that died (its lease lapsed)."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now())


def _claim(row_id: int) -> GroupLabel | None:
    """Lease the row for this worker (a worker that dies lets the lease lapse); None if another holds it."""
    claimed = GroupLabel.objects.filter(_free(), pk=row_id).update(lease_until=timezone.now() + LEASE)
    return GroupLabel.objects.filter(pk=row_id).first() if claimed else None


def _row_for(organization: Organization, group_id: int, name: str) -> GroupLabel:
    row, _created = GroupLabel.objects.get_or_create(
        group_id=group_id, defaults={"organization": organization, "group_name": name})
    return row


def _reconcile_group(organization: Organization, group_id: int, fleet: _Client) -> str:
    """One group: claim its row, send what differs, record the outcome; again if it changed meanwhile."""
    outcome = "unchanged"
    for _round in range(MAX_ROUNDS):
        group = Group.objects.for_org(organization).filter(pk=group_id).first()
        if group is None:
            return outcome  # deleted meanwhile: its row is now an orphan, deleted by the next run
        hosts = wanted_hosts(organization=organization, group_ids=[group_id]).get(group_id, set())
        row = GroupLabel.objects.for_org(organization).filter(group_id=group_id).first()
        if not _differs(row, name=group.name, hosts=hosts):
            return outcome
        row = _claim(_row_for(organization, group_id, group.name).pk)
        if row is None:
            return "busy" if outcome == "unchanged" else outcome
        if not _differs(row, name=group.name, hosts=hosts):  # another worker sent it just before our claim
            GroupLabel.objects.filter(pk=row.pk).update(lease_until=None)
            return outcome
        outcome = _push(organization, row, group, hosts, fleet)
        if outcome == "failed":
            return outcome
    return outcome


def _push(organization: Organization, row: GroupLabel, group: Group, hosts: set[int], fleet: _Client) -> str:
    name = label_name(group.name)
    created = row.fleet_label_id is None
    try:
        client = fleet.get()
        if created:
            label = _create(client, organization, group, name, hosts)
        else:
            changes = {"host_ids": sorted(hosts)} if row.hosts_digest != hosts_digest(hosts) else {}
            if row.label_name != name:
                changes["name"] = name
            try:
                label = client.update_label(row.fleet_label_id, **changes)
            except FleetNotFound:  # deleted in Fleet by someone: the group wants it, so it comes back
                created, label = True, _create(client, organization, group, name, hosts)
    except FleetError as exc:
        _record_failure(row, group, str(exc))
        return "failed"
    now = timezone.now()
    GroupLabel.objects.filter(pk=row.pk).update(
        fleet_label_id=label.id, label_name=name, group_name=group.name,
        hosts_digest=hosts_digest(hosts), host_count=len(hosts), status=GroupLabel.Status.SYNCED, last_error="",
        attempts=0, attempted_at=now, synced_at=now, next_attempt_at=None, lease_until=None, updated_at=now,
    )
    if created:
        audit_record(organization=organization, actor=Actor.system(ACTOR), event="group_label.created",
                     target=group, after={"label": name, "fleet_label_id": label.id,
                                          "hosts": len(hosts)})
    return "created" if created else "updated"


def _create(client: FleetClient, organization: Organization, group: Group, name: str, hosts: set[int]) -> FleetLabel:
    """Create the label; if Fleet already has our label of that name (a lost answer), take it and set its hosts."""
    description = label_description(organization, group.pk)
    try:
        return client.create_manual_label(name=name, description=description, host_ids=hosts)
    except FleetError as exc:
        if exc.status != 409:
            raise
        ours = [label for label in client.list_labels()
                if label.name == name and label.is_manual and _marker(organization, group.pk) in label.description]
        if not ours:
            raise FleetError(_("Fleet already has a label named “%(name)s” that is not this group's: rename the "
                               "group or that label.") % {"name": name}, status=409) from exc
        return client.update_label(ours[0].id, host_ids=sorted(hosts))


def _record_failure(row: GroupLabel, group: Group | None, error: str) -> None:
    now = timezone.now()
    attempts = row.attempts + 1
    GroupLabel.objects.filter(pk=row.pk).update(
        status=GroupLabel.Status.FAILED, last_error=(error or _("Fleet failed without a message."))[:1000],
        attempts=attempts, attempted_at=now, next_attempt_at=now + backoff(attempts), lease_until=None,
        group_name=group.name if group is not None else row.group_name, updated_at=now,
    )


def _mark_in_line(row: GroupLabel) -> None:
    now = timezone.now()
    GroupLabel.objects.filter(_free(), pk=row.pk).update(
        status=GroupLabel.Status.SYNCED, last_error="", attempts=0, next_attempt_at=None,
        synced_at=row.synced_at or now, updated_at=now)


def _delete_label(organization: Organization, row: GroupLabel, fleet: _Client) -> str:
    """A deleted group's label: deleted in Fleet (already gone counts as done), then its row."""
    row = _claim(row.pk)
    if row is None:
        return "busy"
    if row.fleet_label_id is not None:
        try:
            fleet.get().delete_label(row.fleet_label_id)
        except FleetNotFound:
            pass
        except FleetError as exc:
            _record_failure(row, None, str(exc))
            return "failed"
        audit_record(organization=organization, actor=Actor.system(ACTOR), event="group_label.deleted", target=row,
                     before={"label": row.label_name, "group": row.group_name, "fleet_label_id": row.fleet_label_id})
    row.delete()
    return "deleted"


# --- the organization's setting --------------------------------------------------------------


def group_labels_configure(*, organization: Organization, enabled: bool, actor: Actor) -> FleetConnection:
    """Turn groups as Fleet labels on or off. Off sends nothing more (labels already in Fleet stay as they are);
    on again reconciles every group at once."""
    with transaction.atomic():
        connection = FleetConnection.objects.for_org(organization).select_for_update().first()
        if connection is None:
            raise InvalidInput(_("Connect to Fleet first."), field="sync_groups_as_labels")
        if connection.sync_groups_as_labels == enabled:
            return connection
        connection.sync_groups_as_labels = enabled
        connection.save(update_fields=["sync_groups_as_labels", "updated_at"])
        audit_record(organization=organization, actor=actor, event="fleet_connection.labels_setting_changed",
                     target=connection, before={"state": "off" if enabled else "on"},
                     after={"state": "on" if enabled else "off"})
    if enabled and connection.enabled:
        organization_id = organization.pk
        transaction.on_commit(lambda: queue_label_sync(organization_id, None))
    return connection


def group_label_retry(*, organization: Organization, group: Group, actor: Actor) -> None:
    """Send the group's label now (in the worker, after commit), whatever its backoff says."""
    if labels_connection(organization) is None:
        raise InvalidInput(_("Groups are not kept as Fleet labels: turn it on in the Fleet settings."))
    organization_id, group_id = organization.pk, group.pk
    transaction.on_commit(lambda: queue_label_sync(organization_id, [group_id]))


def group_label_state(*, organization: Organization, group: Group) -> dict:
    """For the group page: the label's row, whether labels are on, and whether a change waits to be sent."""
    connection = FleetConnection.objects.for_org(organization).first()
    row = GroupLabel.objects.for_org(organization).filter(group=group).first()
    hosts = wanted_hosts(organization=organization, group_ids=[group.pk]).get(group.pk, set())
    failed = row is not None and row.status == GroupLabel.Status.FAILED
    return {
        "connection": connection,
        "enabled": labels_connection(organization) is not None,
        "row": row,
        "wanted": len(hosts),
        "name": label_name(group.name),
        "waiting": not failed and _differs(row, name=group.name, hosts=hosts),  # sent by the task on its way
    }


def group_label_summary(*, organization: Organization) -> dict:
    """For the Fleet settings page: how many labels are in Fleet, failing, or waiting to be deleted."""
    rows = GroupLabel.objects.for_org(organization)
    return {
        "synced": rows.filter(status=GroupLabel.Status.SYNCED, group__isnull=False).count(),
        "failed": list(rows.filter(status=GroupLabel.Status.FAILED).select_related("group")[:20]),
        "deleting": rows.filter(group__isnull=True).count(),
    }
