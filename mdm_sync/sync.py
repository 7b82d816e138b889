"""Reconcile one organization's devices with every host its Fleet lists (DESIGN §3, §4, §9).

Two phases, so that a Fleet that fails, times out or answers garbage part-way changes nothing:

1. **List** every page (no writes). Each host becomes compact :class:`HostFacts` with a digest;
   a host whose digest equals its device's stored one is unchanged and only its id is kept.
2. **Apply**, in one transaction, only if the listing was complete: match each changed host to a
   device (Fleet id, then serial, then uuid), create the new ones, update the changed ones in bulk,
   and mark devices absent from the listing as "not seen in Fleet".

The sync owns the MDM facts; people own assignment. It never assigns, unassigns, archives or
deletes a device, and a device keeps its name once it has one.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from cockpit.actors import Actor
from cockpit.audit import audit_record
from cockpit.middleware import current_request_id
from cockpit.models import AuditEvent
from cockpit.paging import org_data_changed
from devices.models import AssignmentStatus, AvailabilityStatus, Device, Usage
from devices.services import device_enrollment_status, normalize_serial
from mdm_sync.fleet import DEFAULT_PER_PAGE, FleetAuthError, FleetClient, FleetError, FleetHost, FleetNotFound
from mdm_sync.health import MDM_PLATFORMS, HealthPolicy, assess, mdm_state
from mdm_sync.hooks import after_sync
from mdm_sync.models import FleetConnection, SyncRun

logger = logging.getLogger(__name__)

LOCK_SECONDS = 2 * 60 * 60  # a crashed worker's lock expires; a real run is far shorter
CHUNK = 1000
# Absences confirmed one by one (GET → 404) up to this many; past it, see ``_confirm_absences``.
MAX_ABSENCE_CHECKS = 200
# Changed hosts whose health the list view cannot settle get their Get-host details, up to this many a run;
# the others keep a pending digest and are asked for on the next runs.
MAX_DETAIL_FETCHES = 2000


def pending_digest(digest: str) -> str:
    """The digest stored while a host still waits for its details: as long as any digest, never equal to it."""
    return hashlib.sha1(f"{digest}:details-pending".encode(), usedforsecurity=False).hexdigest()
# ``last_seen_at`` moves at every check-in; counting it to the hour keeps an otherwise unchanged
# fleet from rewriting every row every 30 minutes (the stored value is exact when a row is written).
SEEN_RESOLUTION = timedelta(hours=1)

SYNCED_FIELDS = [
    "fleet_host_id", "fleet_uuid", "fleet_hostname", "platform", "model", "os_version", "last_seen_at",
    "agent_version", "osquery_version", "mdm_status", "mdm_name", "mdm_device_status", "mdm_pending_action",
    "fleet_emails", "fleet_synced_at", "fleet_missing_since", "fleet_facts_hash", "enrollment_status",
    "enrollment_issues", "mdm_enrolled_at", "unenrolled_at", "serial_number", "name", "updated_at",
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
    values = (
        host.id, host.uuid, normalize_serial(host.hardware_serial), host.hostname, host.name[:200],
        host.product_platform, host.hardware_model[:200], host.os_version[:100], host.orbit_version or "",
        host.osquery_version[:50], host.mdm_enrollment_status or "", host.mdm_name[:100],
        host.mdm_device_status or "", host.mdm_pending_action or "", emails, listed.activated, listed.issues,
    )
    seen_bucket = int(host.seen_time.timestamp() // SEEN_RESOLUTION.total_seconds()) if host.seen_time else None
    digest = hashlib.sha1(repr((values, seen_bucket)).encode(), usedforsecurity=False).hexdigest()
    return HostFacts(
        host_id=host.id, uuid=host.uuid[:100], serial=values[2][:100], hostname=host.hostname[:255],
        name=values[4], platform=values[5], model=values[6], os_version=values[7], seen_at=host.seen_time,
        agent_version=values[8][:50], osquery_version=values[9], mdm_status=values[10][:50], mdm_name=values[11],
        device_status=values[12][:20], pending_action=values[13][:20], emails=emails,
        mdm_pending=mdm_state(host) == "pending", activated=health.activated, issues=health.issues, digest=digest,
    )


class IncompleteListing(FleetError):
    """The pages ended, but fewer hosts than Fleet counts: applying it could mark present hosts missing."""


@dataclass
class _Listing:
    seen: set[int]
    changed: list[HostFacts]
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
        try:
            listing = _list_hosts(client, organization=organization, now=now or started, per_page=per_page, run=run,
                                  connection=connection)
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


def _list_hosts(client: FleetClient, *, organization, now: datetime, per_page: int, run: SyncRun,
                connection: FleetConnection) -> _Listing:
    count_before = client.count_hosts()
    policy = HealthPolicy.for_organization(
        organization, apns_certificate_expired=_apns_expired(client, connection, now=now)
    )
    known = {
        host_id: (digest, enrolled is not None, missing is not None)
        for host_id, digest, enrolled, missing in Device.objects.for_org(organization)
        .filter(fleet_host_id__isnull=False)
        .values_list("fleet_host_id", "fleet_facts_hash", "mdm_enrolled_at", "fleet_missing_since")
    }
    # A device's current host by serial: an older host with that serial is a stale duplicate record.
    newest_by_serial = dict(
        Device.objects.for_org(organization).exclude(serial_number="").filter(fleet_host_id__isnull=False)
        .values_list("serial_number", "fleet_host_id")
    )
    listing = _Listing(seen=set(), changed=[])
    details_budget = MAX_DETAIL_FETCHES
    for page in client.iter_host_pages(per_page=per_page):
        listing.pages += 1
        for host in page:
            if host.id in listing.seen:
                continue
            listing.seen.add(host.id)
            digest, enrolled, _missing = known.get(host.id, (None, False, False))
            facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled)
            if facts.digest == digest:
                listing.unchanged += 1
                continue
            stale_duplicate = digest is None and newest_by_serial.get(facts.serial, 0) > host.id
            if not stale_duplicate and needs_details(host, policy=policy, now=now, previously_enrolled=enrolled):
                details = None
                if details_budget:
                    details_budget -= 1
                    details = _details(client, host.id)
                if details is not None:
                    facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled, details=details)
                else:  # list-view health for now; the differing digest brings the host back next run
                    facts = replace(facts, digest=pending_digest(facts.digest))
                    if facts.digest == digest:
                        listing.unchanged += 1
                        continue
            listing.changed.append(facts)
    count_after = client.count_hosts()
    listing.fleet_count = count_after
    run.pages, run.hosts_listed, run.fleet_count = listing.pages, len(listing.seen), count_after
    if len(listing.seen) < min(count_before, count_after):
        raise IncompleteListing(
            f"Fleet listed {len(listing.seen)} hosts but counts {min(count_before, count_after)}: "
            "the listing is incomplete, so nothing was changed."
        )
    absent = [host_id for host_id, (_, _, missing) in known.items() if host_id not in listing.seen and not missing]
    listing.gone = _confirm_absences(client, absent, fleet_shrank=count_after < count_before)
    return listing


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
    """Write the listing; returns the ids of the devices created or updated."""
    devices = Device.objects.for_org(organization)
    by_host = dict(devices.filter(fleet_host_id__isnull=False).values_list("fleet_host_id", "pk"))
    device_host = {pk: host_id for host_id, pk in by_host.items()}
    by_serial = dict(devices.exclude(serial_number="").values_list("serial_number", "pk"))
    by_uuid = dict(devices.exclude(fleet_uuid="").values_list("fleet_uuid", "pk"))

    # Each changed host goes to its device, or to a group of new hosts that are one device
    # (a re-enrolled host listed twice). The newest host (highest Fleet id) speaks for a device.
    for_device: dict[int, HostFacts] = {}
    new_devices: dict[str, HostFacts] = {}
    for facts in listing.changed:
        pk = by_host.get(facts.host_id) or (facts.serial and by_serial.get(facts.serial)) or (
            facts.uuid and by_uuid.get(facts.uuid))
        if pk:
            current = device_host.get(pk)
            if current and current != facts.host_id and current in listing.seen and current > facts.host_id:
                continue  # an older duplicate of a device whose newer host is listed
            best = for_device.get(pk)
            if best is None or facts.host_id > best.host_id:
                for_device[pk] = facts
        else:
            key = facts.serial or facts.uuid or f"host:{facts.host_id}"
            best = new_devices.get(key)
            if best is None or facts.host_id > best.host_id:
                new_devices[key] = facts

    touched = list(for_device)
    _update_devices(for_device, device_host=device_host, now=now, run=run)
    touched += _create_devices(new_devices.values(), organization=organization, now=now, run=run, actor=actor)
    run.unchanged = listing.unchanged + (len(listing.changed) - len(for_device) - len(new_devices))
    _mark_presence(organization, seen=listing.seen, gone=listing.gone, now=now, run=run)
    return touched


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


def _update_devices(for_device: dict[int, HostFacts], *, device_host: dict, now: datetime, run: SyncRun) -> None:
    pks = list(for_device)
    for start in range(0, len(pks), CHUNK):
        chunk = Device.objects.filter(pk__in=pks[start:start + CHUNK]).only(
            "pk", "organization_id", "usage", "assignee_id", "serial_number", "name", "model", "os_version",
            "mdm_enrolled_at", "unenrolled_at", "fleet_host_id",
        )
        rows = list(chunk)
        for device in rows:
            facts = for_device[device.pk]
            if device_host.get(device.pk) not in (None, facts.host_id):
                run.reenrolled += 1
            _write_facts(device, facts, now)
        Device.objects.bulk_update(rows, SYNCED_FIELDS, batch_size=500)
        run.updated += len(rows)


def _create_devices(new: Iterable[HostFacts], *, organization, now: datetime, run: SyncRun,
                    actor: Actor) -> list[int]:
    """New devices in bulk, each with its ``device.created`` audit entry (also written in bulk); returns their ids."""
    created: list[int] = []
    batch: list[Device] = []
    for facts in new:
        device = Device(
            organization=organization, usage=Usage.INDIVIDUAL,
            # An Apple Business Manager placeholder is not in anyone's hands yet.
            availability_status=AvailabilityStatus.IN_STOCK if facts.mdm_pending else AvailabilityStatus.IN_USE,
            assignment_status=AssignmentStatus.TO_ASSIGN,
        )
        _write_facts(device, facts, now)
        batch.append(device)
        if len(batch) >= CHUNK:
            _insert(batch, organization=organization, run=run, actor=actor)
            created += [device.pk for device in batch]
            batch = []
    if batch:
        _insert(batch, organization=organization, run=run, actor=actor)
        created += [device.pk for device in batch]
    return created


def _insert(batch: list[Device], *, organization, run: SyncRun, actor: Actor) -> None:
    Device.objects.bulk_create(batch)
    request_id = current_request_id.get()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization, event="device.created", source="sync", target_type=Device._meta.label_lower,
            target_id=str(device.pk), target_label=str(device)[:255], request_id=request_id,
            after={"fleet_host_id": device.fleet_host_id, "serial_number": device.serial_number,
                   "platform": device.platform},
            **actor.audit_fields,
        )
        for device in batch
    )
    run.created += len(batch)


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
