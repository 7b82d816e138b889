"""Reconcile one organization's devices with every host its Fleet lists (DESIGN §3, §4, §9).

Two phases, so that a Fleet that fails, times out or answers garbage part-way changes nothing:

1. **List** every page (no writes), reading ahead in a thread. Each page costs one query, for its
   hosts' stored digests; a host whose :class:`HostFacts` digest equals its device's is unchanged
   and only its id is kept (8 bytes). The Get-host details some changed hosts need are fetched a
   few at a time while the next pages are listed. Changed hosts' facts go to a temporary file, not
   to memory: memory stays flat as the fleet grows.
2. **Apply**, in one transaction, only if the listing was complete: newest host first, a chunk at
   a time, match each changed host to a device (Fleet id, then serial, then uuid: one query a
   chunk), create the new ones and update the changed ones in bulk (``COPY`` and set-based SQL on
   PostgreSQL, the ORM's bulk methods elsewhere: the same rows either way), and mark devices
   absent from the listing as "not seen in Fleet".

The sync owns the MDM facts; people own assignment. It never assigns, unassigns, archives or
deletes a device, and a device keeps its name once it has one. One move is the sync's own: a device
waiting in stock for its first activation (an Apple Business Manager placeholder, or a device added by
hand) that the listing shows enrolled is put in use (``device.put_in_use``); an archived device, or one
returned to stock after it had been enrolled, stays where people put it.
"""

import hashlib
import json
import logging
import pickle
import tempfile
import threading
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter
from queue import Full, Queue

from django.core.cache import cache
from django.db import connection as db
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.actors import Actor
from core.audit import audit_record
from core.middleware import current_request_id
from core.models import AuditEvent
from core.paging import org_data_changed
from devices.models import AssignmentStatus, AvailabilityStatus, Device, DeviceHistory, Usage
from devices.services import device_enrollment_status, normalize_serial
from mdm_sync.accounts import human_accounts
from mdm_sync.fleet import DEFAULT_PER_PAGE, FleetAuthError, FleetClient, FleetError, FleetHost, FleetNotFound
from mdm_sync.health import MDM_PLATFORMS, HealthPolicy, assess, mdm_state
from mdm_sync.hooks import after_sync
from mdm_sync.models import FleetConnection, SyncRun

logger = logging.getLogger(__name__)

LOCK_SECONDS = 2 * 60 * 60  # a crashed worker's lock expires; a real run is far shorter
CHUNK = 1000
# Changed hosts matched and written together. The uuid fallback scans the table (no index on
# fleet_uuid): larger chunks scan it less often, at a constant memory cost.
APPLY_CHUNK = 5000
# Absences confirmed one by one (GET → 404) up to this many; past it, see ``_confirm_absences``.
MAX_ABSENCE_CHECKS = 200
# Changed hosts whose health the list view cannot settle get their Get-host details, up to this many a run;
# the others keep a pending digest and are asked for on the next runs.
MAX_DETAIL_FETCHES = 2000
DETAIL_THREADS = 4  # Get-host requests in flight at once (the client's pool keeps 8 connections)
DETAIL_PAGES_AHEAD = 4  # pages listed while earlier pages still wait for their details


def pending_digest(digest: str) -> str:
    """The digest stored while a host still waits for its details: as long as any digest, never equal to it."""
    return hashlib.sha1(f"{digest}:details-pending".encode(), usedforsecurity=False).hexdigest()
# ``last_seen_at`` moves at every check-in; counting it to the hour keeps an otherwise unchanged
# fleet from rewriting every row every 30 minutes (the stored value is exact when a row is written).
SEEN_RESOLUTION = timedelta(hours=1)

# Audit events the sync writes itself (registered from ``MdmSyncConfig.ready``).
EVENTS = {
    "device.put_in_use": gettext_lazy("{actor} put {target} in use: it enrolled in the MDM for the first time"),
}

SYNCED_FIELDS = [
    "fleet_host_id", "fleet_uuid", "fleet_hostname", "platform", "model", "os_version", "last_seen_at",
    "agent_version", "osquery_version", "mdm_status", "mdm_name", "mdm_device_status", "mdm_pending_action",
    "fleet_emails", "local_accounts", "fleet_synced_at", "fleet_missing_since", "fleet_facts_hash", "enrollment_status",
    "enrollment_issues", "mdm_enrolled_at", "unenrolled_at", "serial_number", "name", "updated_at",
    # Written back unchanged (the rows are locked) except by a first activation in stock (``_put_in_use``).
    "availability_status", "assignment_status", "version",
]


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What a device keeps of a Fleet host, and the health derived from it."""

    host_id: int
    uuid: str
    serial: str
    hostname: str
    name: str
    platform: str
    model: str
    os_version: str
    seen_at: datetime | None
    agent_version: str
    osquery_version: str
    mdm_status: str
    mdm_name: str
    device_status: str
    pending_action: str
    emails: tuple[tuple[str, str], ...]
    accounts: tuple[str, ...]  # the people's local accounts (mdm_sync.accounts), listed with ``populate_users``
    mdm_pending: bool
    activated: bool
    issues: tuple[str, ...]
    digest: str


def host_facts(host: FleetHost, *, policy: HealthPolicy, now: datetime, previously_enrolled: bool,
               details: FleetHost | None = None) -> HostFacts:
    """``details`` (Get host) sharpens the health; the digest stays the list view's, so a host whose
    listing has not changed is skipped next time without asking for its details again."""
    listed = assess(host, policy=policy, now=now, previously_enrolled=previously_enrolled)
    health = assess(details, policy=policy, now=now, previously_enrolled=previously_enrolled) if details else listed
    emails = tuple(sorted({(m.email, m.source) for m in host.device_mapping}))
    accounts = human_accounts(host.local_users, platform=host.product_platform)
    values = (
        host.id, host.uuid, normalize_serial(host.hardware_serial), host.hostname, host.name[:200],
        host.product_platform, host.hardware_model[:200], host.os_version[:100], host.orbit_version or "",
        host.osquery_version[:50], host.mdm_enrollment_status or "", host.mdm_name[:100],
        host.mdm_device_status or "", host.mdm_pending_action or "", emails, listed.activated, listed.issues,
        accounts,
    )
    seen_bucket = int(host.seen_time.timestamp() // SEEN_RESOLUTION.total_seconds()) if host.seen_time else None
    digest = hashlib.sha1(repr((values, seen_bucket)).encode(), usedforsecurity=False).hexdigest()
    return HostFacts(
        host_id=host.id, uuid=host.uuid[:100], serial=values[2][:100], hostname=host.hostname[:255],
        name=values[4], platform=values[5], model=values[6], os_version=values[7], seen_at=host.seen_time,
        agent_version=values[8][:50], osquery_version=values[9], mdm_status=values[10][:50], mdm_name=values[11],
        device_status=values[12][:20], pending_action=values[13][:20], emails=emails, accounts=accounts,
        mdm_pending=mdm_state(host) == "pending", activated=health.activated, issues=health.issues, digest=digest,
    )


class IncompleteListing(FleetError):
    """The pages ended, but fewer hosts than Fleet counts: applying it could mark present hosts missing."""


class _HostIds:
    """The host ids a listing saw: a sorted array of 8-byte ints (a Python set would cost ~60 bytes each)."""

    def __init__(self):
        self._ids = array("q")
        self._sorted = True

    def add(self, host_id: int) -> bool:
        """Add; False if it was already there. Pages come in ascending id order, so this is an append."""
        ids = self._ids
        if ids and host_id <= ids[-1]:
            if host_id in self:
                return False
            self._sorted = False
        ids.append(host_id)
        return True

    def __contains__(self, host_id) -> bool:
        ids = self._ids
        if not self._sorted:
            self._ids, self._sorted = array("q", sorted(ids)), True
            ids = self._ids
        i = bisect_left(ids, host_id)
        return i < len(ids) and ids[i] == host_id

    def __len__(self) -> int:
        return len(self._ids)


class _Spill:
    """The changed hosts' facts, kept out of memory: pickled a page at a time into an anonymous temporary
    file (private to this run, gone when closed or when the process dies), read back newest first."""

    def __init__(self):
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), called in a finally)
        self._blocks: list[tuple[int, int]] = []
        self.count = 0

    def add(self, facts: list[HostFacts]) -> None:
        if facts:
            data = pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)
            self._blocks.append((self._file.tell(), len(data)))
            self._file.write(data)
            self.count += len(facts)

    def newest_first(self, size: int) -> Iterator[list[HostFacts]]:
        """Chunks of about ``size`` facts in descending host id order (pages were listed ascending)."""
        chunk: list[HostFacts] = []
        for offset, length in reversed(self._blocks):
            self._file.seek(offset)
            chunk += sorted(pickle.loads(self._file.read(length)), key=lambda f: f.host_id, reverse=True)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def close(self) -> None:
        self._file.close()


@dataclass
class _Listing:
    seen: _HostIds = field(default_factory=_HostIds)
    changed: _Spill = field(default_factory=_Spill)
    gone: list[int] = field(default_factory=list)  # known hosts confirmed absent from Fleet
    unchanged: int = 0
    pages: int = 0
    fleet_count: int = 0


# --- entry point -------------------------------------------------------------------------------


def sync_organization(*, organization, trigger: str, actor: Actor, client: FleetClient | None = None,
                      per_page: int = DEFAULT_PER_PAGE, now: datetime | None = None) -> SyncRun:
    """Run one sync now and return its record. Never raises for Fleet's failures: the run says what went wrong."""
    from mdm_sync.services import fleet_client_for

    started = timezone.now()
    run = SyncRun(organization=organization, trigger=trigger, actor_label=actor.label[:200], started_at=started)
    lock_key, lock_value = f"fleet-sync-lock:{organization.pk}", f"{started.timestamp()}"
    if not cache.add(lock_key, lock_value, LOCK_SECONDS):
        run.status, run.finished_at = SyncRun.Status.SKIPPED, timezone.now()
        run.error = "Another sync of this organization is running; this one was skipped."
        run.save()
        return run
    run.save()
    try:
        connection = FleetConnection.objects.for_org(organization).first()
        if connection is None:
            raise FleetError("This organization is not connected to Fleet.")
        own_client = client is None
        client = client or fleet_client_for(connection)
        listing = _Listing()
        try:
            try:
                _list_hosts(client, listing, organization=organization, now=now or started, per_page=per_page,
                            run=run, connection=connection)
            finally:
                if own_client:
                    client.close()
            with transaction.atomic():
                touched = _apply(listing, organization=organization, now=now or started, run=run, actor=actor)
                run.status = SyncRun.Status.SUCCEEDED
                run.finished_at = timezone.now()
                run.save()
                audit_record(organization=organization, actor=actor, event="sync_run.succeeded", target=run,
                             source="sync", after=_counts(run))
        finally:
            listing.changed.close()
        org_data_changed(organization.pk)
        # Pre-assignment, automatic assignment, wipe confirmation…: after the commit, so none can undo it.
        run.follow_ups = after_sync.run(organization=organization, run=run, device_ids=touched, actor=actor)
        if run.follow_ups:
            run.save(update_fields=["follow_ups"])
            org_data_changed(organization.pk)
    except FleetError as exc:
        _fail(run, str(exc))
    except Exception as exc:  # a bug must not leave the run "running" forever; it is logged in full
        logger.exception("Fleet sync of %s crashed", organization.slug)
        _fail(run, f"Internal error ({exc.__class__.__name__}); nothing was changed.")
    finally:
        if cache.get(lock_key) == lock_value:
            cache.delete(lock_key)
    return run


def _counts(run: SyncRun) -> dict:
    return {"created": run.created, "updated": run.updated, "unchanged": run.unchanged, "not_seen": run.not_seen,
            "reenrolled": run.reenrolled, "hosts": run.hosts_listed}


def _fail(run: SyncRun, message: str) -> None:
    """Record the failure; the counts of a failed run stay as listed, and no device was touched."""
    run.status, run.finished_at, run.error = SyncRun.Status.FAILED, timezone.now(), message[:5000]
    run.created = run.updated = run.not_seen = run.reenrolled = 0
    run.save()


# --- phase 1: list ------------------------------------------------------------------------------


def _list_hosts(client: FleetClient, listing: _Listing, *, organization, now: datetime, per_page: int,
                run: SyncRun, connection: FleetConnection) -> None:
    """Phase 1. The next pages are fetched while this one is compared with the database (one query
    for its hosts' stored digests, a second only when some hosts are new to us); only changed hosts
    are kept, in ``listing.changed`` (on disk), so memory does not grow with the fleet."""
    count_before = client.count_hosts()
    policy = HealthPolicy.for_organization(
        organization, apns_certificate_expired=_apns_expired(client, connection, now=now)
    )
    devices = Device.objects.for_org(organization)
    details_budget = MAX_DETAIL_FETCHES

    def finish(changed: list[HostFacts], waiting: list, futures: list) -> None:
        """A page's hosts that waited for their details, then the whole page to the spill."""
        for (host, enrolled, digest), future in zip(waiting, futures, strict=True):
            detail = future.result()
            facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled, details=detail)
            if detail is None:  # list-view health for now; the differing digest brings the host back next run
                facts = replace(facts, digest=pending_digest(facts.digest))
                if facts.digest == digest:
                    listing.unchanged += 1
                    continue
            changed.append(facts)
        listing.changed.add(changed)

    pool = ThreadPoolExecutor(max_workers=DETAIL_THREADS, thread_name_prefix="fleet-details")
    try:
        # A page's details are fetched while the next pages are listed; pages reach the spill in order.
        pending: deque = deque()
        for page in _read_ahead(client.iter_host_pages(per_page=per_page)):
            listing.pages += 1
            hosts = [host for host in page if listing.seen.add(host.id)]
            known = _known(devices, hosts)
            changed: list[HostFacts] = []
            waiting: list[tuple[FleetHost, bool, str | None]] = []  # hosts whose details are asked for
            for host in hosts:
                digest, enrolled, newest_with_serial = known.get(host.id, (None, False, 0))
                facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled)
                if facts.digest == digest:
                    listing.unchanged += 1
                    continue
                stale_duplicate = digest is None and newest_with_serial > host.id
                if not stale_duplicate and needs_details(host, policy=policy, now=now, previously_enrolled=enrolled):
                    if details_budget:
                        details_budget -= 1
                        waiting.append((host, enrolled, digest))
                        continue
                    facts = replace(facts, digest=pending_digest(facts.digest))
                    if facts.digest == digest:
                        listing.unchanged += 1
                        continue
                changed.append(facts)
            pending.append((changed, waiting, [pool.submit(_details, client, host.id) for host, _, _ in waiting]))
            while len(pending) > DETAIL_PAGES_AHEAD or (pending and all(f.done() for f in pending[0][2])):
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    count_after = client.count_hosts()
    listing.fleet_count = count_after
    run.pages, run.hosts_listed, run.fleet_count = listing.pages, len(listing.seen), count_after
    if len(listing.seen) < min(count_before, count_after):
        raise IncompleteListing(
            f"Fleet listed {len(listing.seen)} hosts but counts {min(count_before, count_after)}: "
            "the listing is incomplete, so nothing was changed."
        )
    absent = [
        host_id for host_id in devices.filter(fleet_host_id__isnull=False, fleet_missing_since__isnull=True)
        .values_list("fleet_host_id", flat=True).iterator(chunk_size=CHUNK)
        if host_id not in listing.seen
    ]
    listing.gone = _confirm_absences(client, absent, fleet_shrank=count_after < count_before)


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def _read_ahead(pages: Iterator, depth: int = 2) -> Iterator:
    """``pages``, fetched and parsed in a thread ``depth`` pages ahead: Fleet prepares the next page
    while this one is compared with the database. An error is raised here, in its turn; leaving
    early stops the thread."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Raised(exc))
            return
        finally:
            if stop.is_set():
                pages.close()
        put(_END)

    thread = threading.Thread(target=produce, name="fleet-pages", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=60)


def _known(devices, hosts: list[FleetHost]) -> dict[int, tuple[str | None, bool, int]]:
    """For a page's hosts: host id -> (stored digest, enrolled before, 0), in one query; and, with a
    second query only if some hosts are new to us, for a new host whose serial a device has, the
    Fleet id of that device's host (a newer one makes this host a stale duplicate: it never costs
    a details request)."""
    known: dict[int, tuple[str | None, bool, int]] = {
        host_id: (digest, enrolled_at is not None, 0)
        for host_id, digest, enrolled_at in devices.filter(
            fleet_host_id__isnull=False, fleet_host_id__in=[host.id for host in hosts]
        ).values_list("fleet_host_id", "fleet_facts_hash", "mdm_enrolled_at")
    }
    serials = {normalize_serial(host.hardware_serial)[:100] for host in hosts if host.id not in known} - {""}
    if serials:
        by_serial = dict(devices.exclude(serial_number="").filter(
            serial_number__in=sorted(serials), fleet_host_id__isnull=False,
        ).values_list("serial_number", "fleet_host_id"))
        for host in hosts:
            newest = host.id not in known and by_serial.get(normalize_serial(host.hardware_serial)[:100])
            if newest:
                known[host.id] = (None, False, newest)
    return known


def _apns_expired(client: FleetClient, connection: FleetConnection, *, now: datetime) -> bool:
    """Read Fleet's Apple push certificate, record it on the connection, and say whether it has expired.

    A failed read (no permission, Fleet down, garbage) never fails the sync: the error is recorded
    and the last known expiry date stands.
    """
    try:
        certificate = client.get_apns()
    except FleetError as exc:
        logger.warning("Fleet APNs certificate of %s unreadable: %s", connection.organization_id, exc)
        connection.apns_error = f"Could not read the Apple push certificate: {exc}"[:500]
        FleetConnection.objects.filter(pk=connection.pk).update(apns_error=connection.apns_error)
        return connection.apns_expired(now)
    connection.apns_configured = certificate is not None
    connection.apns_expires_at = certificate.renew_date if certificate else None
    connection.apns_checked_at, connection.apns_error = timezone.now(), ""
    FleetConnection.objects.filter(pk=connection.pk).update(
        apns_configured=connection.apns_configured, apns_expires_at=connection.apns_expires_at,
        apns_checked_at=connection.apns_checked_at, apns_error="",
    )
    return connection.apns_expired(now)


def needs_details(host: FleetHost, *, policy: HealthPolicy, now: datetime, previously_enrolled: bool) -> bool:
    """Hosts whose list view leaves the health open, and that Get host settles (FLEET_API.md §3, §8):

    * an MDM device whose agent is quiet: the MDM's own check-in (``last_mdm_checked_in_at``) tells an
      inactive agent on a live device from a device that is offline;
    * a Mac with MDM off, not known to us as enrolled before: ``last_mdm_enrolled_at`` tells a removed
      profile from an enrollment that never finished.
    """
    platform, mdm = host.product_platform, mdm_state(host)
    # Quiet for less than the offline threshold, the list view's "agent inactive" already holds.
    silent = host.seen_time is not None and now - host.seen_time > policy.offline_after
    if silent and platform in MDM_PLATFORMS and mdm == "on":
        return True
    alive = host.seen_time is not None and now - host.seen_time <= policy.agent_inactive_after
    return platform == "macos" and mdm in ("off", "none") and not previously_enrolled and alive


def _details(client: FleetClient, host_id: int) -> FleetHost | None:
    """Get host, or None when it cannot be had now (the list view's health stands for this run)."""
    try:
        return client.get_host(host_id)
    except FleetAuthError:
        raise
    except FleetError as exc:
        logger.warning("Fleet host %s details unavailable: %s", host_id, exc)
        return None


def _confirm_absences(client: FleetClient, absent: list[int], *, fleet_shrank: bool) -> list[int]:
    """The known hosts really gone from Fleet.

    Pages are offsets: a host deleted mid-listing shifts the later pages, and a present host can
    slip between two of them. So an absence is confirmed by asking for the host (404: gone). When
    there are too many to ask, the listing is trusted only if Fleet did not shrink while it ran;
    otherwise the marking waits for the next run.
    """
    if len(absent) > MAX_ABSENCE_CHECKS:
        return [] if fleet_shrank else absent
    gone = []
    for host_id in absent:
        try:
            client.get_host(host_id)
        except FleetNotFound:
            gone.append(host_id)
    return gone


# --- phase 2: apply ------------------------------------------------------------------------------


def _apply(listing: _Listing, *, organization, now: datetime, run: SyncRun, actor: Actor) -> list[int]:
    """Phase 2: write the listing, a chunk of changed hosts at a time; returns the ids of the devices
    created or updated.

    Hosts come newest first (highest Fleet id), so the newest host of a device speaks for it: an
    older host matching a device whose host is newer and listed (a stale duplicate, or the host
    before a re-enrollment) is skipped, whether that device existed or was written a chunk earlier.
    """
    writer = _CopyWriter(run) if db.vendor == "postgresql" else _OrmWriter()
    touched: list[int] = []
    skipped = 0
    for chunk in listing.changed.newest_first(APPLY_CHUNK):
        by_host, by_serial, by_uuid = _devices_for(organization, chunk)
        updated: dict[int, Device] = {}
        new_devices: dict[str, Device] = {}
        put_in_use: list[tuple[AuditEvent, DeviceHistory]] = []
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
                put_in_use.append((
                    _status_event(device, "device.put_in_use", before=before, organization=organization, actor=actor),
                    _history_row(device, before=before, organization=organization, actor=actor),
                ))
            updated[device.pk] = device
        writer.update(list(updated.values()))
        if put_in_use:
            writer.insert_audit([event for event, _history in put_in_use])
            writer.insert_history([history for _event, history in put_in_use])
        run.updated += len(updated)
        touched += updated
        created = list(new_devices.values())
        if created:
            writer.insert(created)
            writer.insert_audit([_created_event(device, organization=organization, actor=actor) for device in created])
            run.created += len(created)
            touched += [device.pk for device in created]
    writer.close()
    run.unchanged = listing.unchanged + skipped
    _mark_presence(organization, seen=listing.seen, gone=listing.gone, now=now, run=run)
    return touched


_MATCH_FIELDS = ("pk", "organization_id", "usage", "assignee_id", "serial_number", "name", "model", "os_version",
                 "mdm_enrolled_at", "unenrolled_at", "fleet_host_id", "fleet_uuid", "availability_status",
                 "assignment_status", "enrollment_status", "version")


def _devices_for(organization, chunk: list[HostFacts]) -> tuple[dict, dict, dict]:
    """The devices a chunk of hosts can match (Fleet id, serial, uuid), locked for this transaction:
    one query, and one more for the uuids of hosts matched by neither."""
    devices = Device.objects.for_org(organization).select_for_update().only(*_MATCH_FIELDS)
    serials = [facts.serial for facts in chunk if facts.serial]
    found = list(devices.filter(_host_or_serial([facts.host_id for facts in chunk], serials)))
    by_host = {device.fleet_host_id: device for device in found if device.fleet_host_id is not None}
    by_serial = {device.serial_number: device for device in found if device.serial_number}
    uuids = [facts.uuid for facts in chunk if facts.uuid and facts.host_id not in by_host
             and not (facts.serial and facts.serial in by_serial)]
    by_uuid = {}
    if uuids:
        same = {device.pk: device for device in found}  # one instance per row: writes stay visible
        for device in devices.filter(fleet_uuid__in=uuids):
            by_uuid[device.fleet_uuid] = same.get(device.pk, device)
    return by_host, by_serial, by_uuid


def _host_or_serial(host_ids, serials) -> Q:
    """Devices with one of these Fleet ids or serials. Each branch repeats its unique index's
    condition, so PostgreSQL combines the two indexes instead of scanning the table."""
    return (Q(fleet_host_id__isnull=False, fleet_host_id__in=list(host_ids))
            | (~Q(serial_number="") & Q(serial_number__in=sorted(serials))))


def _new_device(organization, facts: HostFacts, now: datetime) -> Device:
    device = Device(
        organization=organization, usage=Usage.INDIVIDUAL,
        # An Apple Business Manager placeholder is not in anyone's hands yet.
        availability_status=AvailabilityStatus.IN_STOCK if facts.mdm_pending else AvailabilityStatus.IN_USE,
        assignment_status=AssignmentStatus.TO_ASSIGN,
    )
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


def _status_event(device: Device, event: str, *, before: dict, organization, actor: Actor) -> AuditEvent:
    """A status change the sync made, as ``devices.services`` records its moves (written in bulk)."""
    return AuditEvent(
        organization=organization, event=event, source="sync", target_type=Device._meta.label_lower,
        target_id=str(device.pk), target_label=str(device)[:255], request_id=current_request_id.get(),
        before=before, after=_status_snapshot(device),
        **actor.audit_fields,
    )


def _history_row(device: Device, *, before: dict, organization, actor: Actor) -> DeviceHistory:
    """The device's history row for the same change (``GET /api/v1/devices/{id}/history/``)."""
    return DeviceHistory(
        organization=organization, device=device, action=DeviceHistory.Action.PUT_IN_USE, source="sync",
        actor_label=actor.label[:200], availability_before=before["availability_status"],
        availability_after=device.availability_status, assignment_before=before["assignment_status"] or "",
        assignment_after=device.assignment_status or "", assignee_before_id=device.assignee_id,
        assignee_after_id=device.assignee_id,
    )


def _created_event(device: Device, *, organization, actor: Actor) -> AuditEvent:
    """The ``device.created`` entry of a device the sync found (written in bulk, like the devices)."""
    return AuditEvent(
        organization=organization, event="device.created", source="sync", target_type=Device._meta.label_lower,
        target_id=str(device.pk), target_label=str(device)[:255], request_id=current_request_id.get(),
        after={"fleet_host_id": device.fleet_host_id, "serial_number": device.serial_number,
               "platform": device.platform},
        **actor.audit_fields,
    )


class _OrmWriter:
    """Bulk writes through the ORM: any database, among them SQLite (the embedded default)."""

    def update(self, devices: list[Device]) -> None:
        if devices:
            Device.objects.bulk_update(devices, SYNCED_FIELDS, batch_size=500)

    def insert(self, devices: list[Device]) -> None:
        Device.objects.bulk_create(devices)

    def insert_audit(self, events: list[AuditEvent]) -> None:
        AuditEvent.objects.bulk_create(events)

    def insert_history(self, rows: list[DeviceHistory]) -> None:
        DeviceHistory.objects.bulk_create(rows)

    def close(self) -> None:
        pass


class _CopyWriter:
    """PostgreSQL: the same rows, written with ``COPY`` (PERF_NOTES: ~10x Django's bulk methods).

    Updates go through a temporary table private to this session, named after the run, dropped when
    the writing is done (and by PostgreSQL at commit, at rollback, or with a dead connection), then one set-based
    ``UPDATE … FROM``. New devices take their ids from the table's sequence and are copied in
    directly, their audit entries too.
    """

    def __init__(self, run: SyncRun):
        self.stage = f"mdm_sync_stage_{int(run.pk)}"
        self.staged = False
        self.update_fields = [Device._meta.get_field(name) for name in SYNCED_FIELDS]

    def update(self, devices: list[Device]) -> None:
        if not devices:
            return
        quote = db.ops.quote_name
        columns = [quote(field.column) for field in self.update_fields]
        with db.cursor() as cursor:
            if self.staged:
                cursor.execute(f"TRUNCATE {self.stage}")
            else:
                cursor.execute(f"CREATE TEMPORARY TABLE {self.stage} ON COMMIT DROP AS SELECT id, {', '.join(columns)} "
                               f"FROM {quote(Device._meta.db_table)} WITH NO DATA")
                self.staged = True
            _copy(cursor, self.stage, ["id", *columns], (
                [device.pk, *(_db_value(field, getattr(device, field.attname)) for field in self.update_fields)]
                for device in devices
            ))
            assignments = ", ".join(f"{column} = s.{column}" for column in columns)
            cursor.execute(f"UPDATE {quote(Device._meta.db_table)} AS d SET {assignments} "
                           f"FROM {self.stage} AS s WHERE d.id = s.id")

    def insert(self, devices: list[Device]) -> None:
        with db.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [Device._meta.db_table, len(devices)])
            for device, (pk,) in zip(devices, cursor.fetchall(), strict=True):
                device.pk = pk
            _copy_models(cursor, Device, devices, with_pk=True)

    def insert_audit(self, events: list[AuditEvent]) -> None:
        with db.cursor() as cursor:
            _copy_models(cursor, AuditEvent, events, with_pk=False)

    def insert_history(self, rows: list[DeviceHistory]) -> None:
        with db.cursor() as cursor:
            _copy_models(cursor, DeviceHistory, rows, with_pk=False)

    def close(self) -> None:
        """Drop the staging table now: inside a caller's transaction, ON COMMIT would come late."""
        if self.staged:
            with db.cursor() as cursor:
                cursor.execute(f"DROP TABLE {self.stage}")
            self.staged = False


def _db_value(field, value):
    """A model value as ``COPY`` takes it: JSON as text, the rest as psycopg adapts it."""
    if value is not None and field.get_internal_type() == "JSONField":
        return json.dumps(value, cls=field.encoder)
    return value


def _copy(cursor, table: str, columns: list[str], rows: Iterable[list]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_models(cursor, model, objects: list, *, with_pk: bool) -> None:
    """``COPY`` model instances into their table, every concrete column, defaults applied as the ORM would
    (``auto_now`` fields get the time, JSON goes as text)."""
    fields = [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]
    columns = [db.ops.quote_name(field.column) for field in fields]
    values = attrgetter(*(field.attname for field in fields))  # one C call a row
    # The few columns whose value is not the attribute as it stands.
    special = [(i, field) for i, field in enumerate(fields)
               if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
               or field.get_internal_type() == "JSONField"]

    def row(obj) -> list:
        out = list(values(obj))
        for i, model_field in special:
            out[i] = _db_value(model_field, model_field.pre_save(obj, True))
        return out

    _copy(cursor, db.ops.quote_name(model._meta.db_table), columns, (row(obj) for obj in objects))


def _write_facts(device: Device, facts: HostFacts, now: datetime) -> None:
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
