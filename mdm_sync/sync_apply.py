"""Phase 2 of the sync: apply a complete listing, in the caller's transaction.

Newest host first, a chunk at a time: match each changed host to a device (Fleet id, then serial, then uuid: one
query a chunk), create the new ones and update the changed ones in bulk (``sync_writers``), and mark devices absent
from the listing as "not seen in Fleet". A device waiting in stock for its first activation that enrolls is put in
use: the sync's only move of its own.
"""

from datetime import datetime
from itertools import islice
from operator import attrgetter

from django.db import connection as db
from django.db.models import Case, F, Q, Value, When
from django.db.models.lookups import In

from core.actors import Actor
from core.middleware import current_request_id
from core.models import AuditEvent
from devices.models import AssignmentStatus, AvailabilityStatus, Device, DeviceHistory, Usage
from devices.services import device_enrollment_status
from mdm_sync.models import SyncRun
from mdm_sync.sync_listing import CHUNK, DigestRefresh, HostFacts, Listing
from mdm_sync.sync_writers import SYNCED_FIELDS, CopyWriter, OrmWriter

# Changed hosts matched and written together. The uuid fallback scans the table (no index on
# fleet_uuid): larger chunks scan it less often, at a constant memory cost.
APPLY_CHUNK = 5000
REFRESH_BATCH = 500  # stored keys refreshed a statement


def apply_listing(listing: Listing, *, organization, now: datetime, run: SyncRun, actor: Actor) -> list[int]:
    """Phase 2: write the listing, a chunk of changed hosts at a time; returns the ids of the devices
    created or updated.

    Hosts come newest first (highest Fleet id), so the newest host of a device speaks for it: an
    older host matching a device whose host is newer and listed (a stale duplicate, or the host
    before a re-enrollment) is skipped, whether that device existed or was written a chunk earlier.
    """
    writer = CopyWriter(run) if db.vendor == "postgresql" else OrmWriter()
    rows = _Rows(organization, actor)
    touched: list[int] = []
    skipped = 0
    for chunk in listing.changed.newest_first(APPLY_CHUNK):
        by_host, by_serial, by_uuid = _devices_for(organization, chunk)
        updated: dict[int, Device] = {}
        new_devices: dict[str, NewDevice] = {}
        put_in_use: list[tuple[tuple, tuple]] = []  # (audit row, history row)
        for facts in chunk:
            device = by_host.get(facts.host_id) or by_serial.get(facts.serial or None) or by_uuid.get(
                facts.uuid or None)
            if device is None:
                key = facts.serial or facts.uuid or f"host:{facts.host_id}"
                if key in new_devices:  # an older host of a new device listed twice
                    skipped += 1
                    continue
                new_devices[key] = _new_device(organization, facts, now)
                continue
            current = device.fleet_host_id
            if current and current != facts.host_id and current > facts.host_id and current in listing.seen:
                skipped += 1  # an older duplicate of a device whose newer host is listed
                continue
            if current not in (None, facts.host_id):
                run.reenrolled += 1
            before, was_activated = _status_snapshot(device), device.mdm_enrolled_at is not None
            _write_facts(device, facts, now)
            if _put_in_use(device, was_activated=was_activated):
                put_in_use.append((rows.status_event(device, "device.put_in_use", before=before),
                                   rows.history(device, before=before)))
            updated[device.pk] = device
        writer.update(list(updated.values()))
        if put_in_use:
            writer.insert(AuditEvent, AUDIT_FIELDS, [event for event, _history in put_in_use])
            writer.insert(DeviceHistory, HISTORY_FIELDS, [history for _event, history in put_in_use])
        run.updated += len(updated)
        touched += updated
        created = list(new_devices.values())
        if created:
            ids = writer.insert(Device, NEW_DEVICE_FIELDS, [new_device_values(device) for device in created],
                                returning_ids=True)
            for device, pk in zip(created, ids, strict=True):
                device.pk = pk
            writer.insert(AuditEvent, AUDIT_FIELDS, [rows.created_event(device) for device in created])
            run.created += len(created)
            touched += ids
    writer.close()
    run.unchanged = listing.unchanged + skipped
    _refresh_keys(organization, listing.refresh)
    _mark_presence(organization, seen=listing.seen, gone=listing.gone, now=now, run=run)
    return touched


_MATCH_FIELDS = ("pk", "organization_id", "usage", "assignee_id", "serial_number", "name", "model", "os_version",
                 "mdm_enrolled_at", "unenrolled_at", "fleet_host_id", "fleet_uuid", "availability_status",
                 "assignment_status", "enrollment_status", "version")


class MatchedDevice:
    """A device a changed host matched, as its ``_MATCH_FIELDS`` columns, then the synced values ``_write_facts`` sets
    (what ``device_enrollment_status``, the audit and history rows and the writer read): a ``Device`` loaded with
    ``only()`` cost ~15 µs to build, and a changed fleet matches one a host. The ORM writer builds instances."""

    __str__ = Device.__str__  # the audit entry's label

    def __init__(self, row: tuple):
        self.__dict__.update(zip(_MATCH_FIELDS, row, strict=True))


def _devices_for(organization, chunk: list[HostFacts]) -> tuple[dict, dict, dict]:
    """The devices a chunk of hosts can match (Fleet id, serial, uuid), locked for this transaction:
    one query, and one more for the uuids of hosts matched by neither."""
    devices = Device.objects.for_org(organization).select_for_update()
    serials = [facts.serial for facts in chunk if facts.serial]
    found = _matched(devices.filter(_host_or_serial([facts.host_id for facts in chunk], serials)))
    by_host = {device.fleet_host_id: device for device in found if device.fleet_host_id is not None}
    by_serial = {device.serial_number: device for device in found if device.serial_number}
    uuids = [facts.uuid for facts in chunk if facts.uuid and facts.host_id not in by_host
             and not (facts.serial and facts.serial in by_serial)]
    by_uuid = {}
    if uuids:
        same = {device.pk: device for device in found}  # one instance per row: writes stay visible
        for device in _matched(devices.filter(_In(F("fleet_uuid"), uuids))):
            by_uuid[device.fleet_uuid] = same.get(device.pk, device)
    return by_host, by_serial, by_uuid


def _matched(devices) -> list[MatchedDevice]:
    return list(map(MatchedDevice, devices.values_list(*_MATCH_FIELDS)))


def _host_or_serial(host_ids, serials) -> Q:
    """Devices with one of these Fleet ids or serials. Each branch repeats its unique index's
    condition, so PostgreSQL combines the two indexes instead of scanning the table."""
    return ((Q(fleet_host_id__isnull=False) & _In(F("fleet_host_id"), list(host_ids)))
            | (~Q(serial_number="") & _In(F("serial_number"), sorted(serials))))


class _In(In):
    """``field IN (…)``, sent to PostgreSQL as ``field = ANY(%s::type[])``: one array parameter, where thousands of
    placeholders cost psycopg ~0.1 s a chunk to bind. The array has the column's type, so that PostgreSQL hashes it
    (without the cast, a bigint column met a numeric array, compared element by element: 10x slower)."""

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{self.lhs.output_field.cast_db_type(connection)}[])", [*lhs_params, list(self.rhs)]


class NewDevice:
    """A device the sync creates, as the attributes ``_write_facts`` and ``device_enrollment_status`` set and read
    (a new device's defaults until then): a Django model instance costs ~25 µs to build and copy, a first sync of
    a big fleet builds one a host. Its values go to the writer as one row (``NEW_DEVICE_FIELDS``)."""

    pk = None
    assignee_id = None
    mdm_enrolled_at = unenrolled_at = None
    serial_number = name = model = os_version = ""
    __str__ = Device.__str__  # the audit entry's label

    def __init__(self, organization_id: int, availability_status: str):
        self.organization_id = organization_id
        self.usage = Usage.INDIVIDUAL
        self.availability_status = availability_status
        self.assignment_status = AssignmentStatus.TO_ASSIGN


# Every field the sync sets on a new device; the others get their defaults (``updated_at``: the time of the insert).
NEW_DEVICE_FIELDS = ["organization_id", "usage", *(name for name in SYNCED_FIELDS if name not in ("updated_at",
                                                                                                   "version"))]
new_device_values = attrgetter(*NEW_DEVICE_FIELDS)


def _new_device(organization, facts: HostFacts, now: datetime) -> NewDevice:
    # An Apple Business Manager placeholder is not in anyone's hands yet.
    device = NewDevice(organization.pk, AvailabilityStatus.IN_STOCK if facts.mdm_pending else AvailabilityStatus.IN_USE)
    _write_facts(device, facts, now)
    return device


def _status_snapshot(device: Device) -> dict:
    return {"availability_status": device.availability_status, "assignment_status": device.assignment_status,
            "enrollment_status": device.enrollment_status}


def _put_in_use(device: Device, *, was_activated: bool) -> bool:
    """A device that waited in stock for its first activation and is now enrolled goes into use (assigned
    if it has an owner). Archived devices, and devices back in stock after an earlier enrollment, stay put."""
    first_activation = not was_activated and device.mdm_enrolled_at is not None
    if not first_activation or device.availability_status != AvailabilityStatus.IN_STOCK:
        return False
    device.availability_status = AvailabilityStatus.IN_USE
    device.assignment_status = AssignmentStatus.ASSIGNED if device.assignee_id else AssignmentStatus.TO_ASSIGN
    device.enrollment_status = device_enrollment_status(device)
    device.version += 1  # a form opened on the stock device is now stale
    return True


AUDIT_FIELDS = ["organization_id", "event", "source", "target_type", "target_id", "target_label", "request_id",
                "before", "after", "actor_type", "actor_user_id", "actor_token_id", "actor_label"]
HISTORY_FIELDS = ["organization_id", "device_id", "action", "source", "actor_label", "availability_before",
                  "availability_after", "assignment_before", "assignment_after", "assignee_before_id",
                  "assignee_after_id"]


class _Rows:
    """The audit entries and history rows the sync writes, as plain rows (``AUDIT_FIELDS``, ``HISTORY_FIELDS``):
    the values ``devices.services`` records for the same moves, without a model instance each."""

    def __init__(self, organization, actor: Actor):
        fields = actor.audit_fields
        user, token = fields["actor_user"], fields["actor_token"]
        self.organization_id = organization.pk
        self.actor = (fields["actor_type"], user.pk if user else None, token.pk if token else None,
                      fields["actor_label"])
        self.actor_label = actor.label[:200]
        self.request_id = current_request_id.get()
        self.target_type = Device._meta.label_lower

    def status_event(self, device: Device, event: str, *, before: dict) -> tuple:
        """A status change the sync made, as ``devices.services`` records its moves."""
        return (self.organization_id, event, "sync", self.target_type, str(device.pk), str(device)[:255],
                self.request_id, before, _status_snapshot(device), *self.actor)

    def history(self, device: Device, *, before: dict) -> tuple:
        """The device's history row for the same change (``GET /api/v1/devices/{id}/history/``)."""
        return (self.organization_id, device.pk, DeviceHistory.Action.PUT_IN_USE, "sync", self.actor_label,
                before["availability_status"], device.availability_status, before["assignment_status"] or "",
                device.assignment_status or "", device.assignee_id, device.assignee_id)

    def created_event(self, device: NewDevice) -> tuple:
        """The ``device.created`` entry of a device the sync found."""
        return (self.organization_id, "device.created", "sync", self.target_type, str(device.pk), str(device)[:255],
                self.request_id, {}, {"fleet_host_id": device.fleet_host_id, "serial_number": device.serial_number,
                                      "platform": device.platform}, *self.actor)


def _write_facts(device: Device | NewDevice, facts: HostFacts, now: datetime) -> None:
    device.fleet_host_id = facts.host_id
    device.fleet_uuid = facts.uuid
    device.fleet_hostname = facts.hostname
    device.platform = facts.platform
    device.model = facts.model or device.model
    device.os_version = facts.os_version or device.os_version
    device.last_seen_at = facts.seen_at
    device.agent_version = facts.agent_version
    device.osquery_version = facts.osquery_version
    device.mdm_status = facts.mdm_status
    device.mdm_name = facts.mdm_name
    device.mdm_device_status = facts.device_status
    device.mdm_pending_action = facts.pending_action
    device.fleet_emails = [{"email": email, "source": source} for email, source in facts.emails]
    device.local_accounts = list(facts.accounts)
    device.fleet_synced_at = now
    device.fleet_missing_since = None
    device.fleet_facts_hash = facts.digest
    device.enrollment_issues = list(facts.issues)
    if facts.activated:
        device.mdm_enrolled_at = device.mdm_enrolled_at or now
        device.unenrolled_at = None  # enrolled again after an unenrollment
    if not device.serial_number and facts.serial:
        device.serial_number = facts.serial
    if not device.name:
        device.name = facts.name or facts.serial
    device.enrollment_status = device_enrollment_status(device)
    device.updated_at = now


def _refresh_keys(organization, refresh: DigestRefresh) -> None:
    """Unchanged hosts whose key changed (``sync_keys``): only their stored digest is rewritten (not even
    ``updated_at``), and only where it is still the one the listing compared."""
    if db.vendor == "postgresql":
        _refresh_keys_postgresql(organization, refresh)
        return
    devices = Device.objects.for_org(organization)
    rows = iter(refresh)
    while batch := list(islice(rows, REFRESH_BATCH)):
        devices.filter(fleet_host_id__in=[host_id for host_id, _old, _new in batch]).update(fleet_facts_hash=Case(
            *(When(fleet_host_id=host_id, fleet_facts_hash=old, then=Value(new)) for host_id, old, new in batch),
            default=F("fleet_facts_hash")))


def _refresh_keys_postgresql(organization, refresh: DigestRefresh) -> None:
    """The same rewrite as one ``UPDATE … FROM unnest(…)`` a few thousand hosts at a time: the ORM's ``CASE`` of
    500 ``WHEN``s a statement cost ~1 ms of CPU a host to build (18,000 hosts after a change of the rules: 20 s)."""
    table, quote = Device._meta.db_table, db.ops.quote_name
    sql = (f"UPDATE {quote(table)} AS d SET fleet_facts_hash = v.new "
           "FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[]) AS v(host_id, old, new) "
           "WHERE d.organization_id = %s AND d.fleet_host_id = v.host_id AND d.fleet_facts_hash = v.old")
    rows = iter(refresh)
    with db.cursor() as cursor:
        while batch := list(islice(rows, APPLY_CHUNK)):
            host_ids, old, new = zip(*batch, strict=True)
            cursor.execute(sql, [list(host_ids), list(old), list(new), organization.pk])


def _mark_presence(organization, *, seen: set[int], gone: list[int], now: datetime, run: SyncRun) -> None:
    """Hosts gone from Fleet: their devices are marked "not seen", never unassigned or archived."""
    devices = Device.objects.for_org(organization)
    for start in range(0, len(gone), CHUNK):
        devices.filter(fleet_host_id__in=gone[start:start + CHUNK], fleet_missing_since__isnull=True).update(
            fleet_missing_since=now, updated_at=now
        )
    run.not_seen = devices.filter(fleet_missing_since__isnull=False).count()
    back = [pk for pk, host_id in devices.filter(fleet_missing_since__isnull=False).values_list("pk", "fleet_host_id")
            if host_id in seen]
    if back:
        devices.filter(pk__in=back).update(fleet_missing_since=None, updated_at=now)
        run.not_seen -= len(back)
