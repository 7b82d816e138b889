"""Reconcile one organization's devices with every host its Fleet lists (DESIGN §3, §4, §9).

Two phases, so that a Fleet that fails, times out or answers garbage part-way changes nothing:

1. **List** every page (no writes), reading ahead in a thread (``sync_listing``). The stored digests are
   read once a run, not a page at a time; a host whose key or :class:`HostFacts` digest equals its device's is
   unchanged and only its id is kept (8 bytes). The Get-host details some changed hosts need are fetched
   a few at a time while the next pages are listed. Changed hosts' facts go to a temporary file, not
   to memory: memory stays flat as the fleet grows.
2. **Apply**, in one transaction, only if the listing was complete (``sync_apply``): newest host first,
   a chunk at a time, match each changed host to a device (Fleet id, then serial, then uuid: one query a
   chunk), create the new ones (from plain rows, no model instance) and update the changed ones in bulk
   (``sync_writers``: ``COPY`` and set-based SQL on PostgreSQL, the ORM's bulk methods elsewhere: the same rows
   either way), and mark
   devices absent from the listing as "not seen in Fleet".

The sync owns the MDM facts; people own assignment. It never assigns, unassigns, archives or
deletes a device, and a device keeps its name once it has one. One move is the sync's own: a device
waiting in stock for its first activation (an Apple Business Manager placeholder, or a device added by
hand) that the listing shows enrolled is put in use (``device.put_in_use``); an archived device, or one
returned to stock after it had been enrolled, stays where people put it.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.leases import Lease, LeaseLost, lease_acquire
from core.paging import org_data_changed
from mdm_sync.fleet import DEFAULT_PER_PAGE, FleetClient, FleetError
from mdm_sync.hooks import after_sync
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.services import fleet_client_for
from mdm_sync.sync_apply import apply_listing
from mdm_sync.sync_listing import HostFacts, Listing, host_facts, list_hosts

__all__ = ["HostFacts", "host_facts", "sync_organization"]

logger = logging.getLogger(__name__)

LEASE_JOB = "fleet-sync"  # one per organization (core.leases): renewed while the run works, released at its end


def sync_organization(*, organization, trigger: str, actor: Actor, client: FleetClient | None = None,
                      per_page: int = DEFAULT_PER_PAGE, now: datetime | None = None) -> SyncRun:
    """Run one sync now and return its record. Never raises for Fleet's failures: the run says what went wrong.

    While another live run holds the organization's lease this one records itself as skipped. A run whose worker
    died stops renewing; once its lease lapsed (``JOB_LEASE_SECONDS``) the next run marks it abandoned and syncs."""
    started = timezone.now()
    run = SyncRun(organization=organization, trigger=trigger, actor_label=actor.label[:200], started_at=started)
    lease = lease_acquire(organization=organization, job=LEASE_JOB, now=started)
    if lease is None:
        run.status, run.finished_at = SyncRun.Status.SKIPPED, timezone.now()
        run.error = gettext("Another sync of this organization is running; this one was skipped.")
        run.save()
        return run
    try:
        _abandon_lapsed_runs(organization, lease, now=started)
        run.save()
        with lease.heartbeat():
            _sync(run, lease, organization=organization, actor=actor, client=client, per_page=per_page,
                  now=now or started)
    except LeaseLost:  # stalled past the lease: the run that took over marked this one abandoned; write nothing
        logger.warning("Fleet sync %s of %s lost its lease to another run", run.pk, organization.slug)
        run.refresh_from_db()
    finally:
        lease.release()
    return run


def _sync(run: SyncRun, lease: Lease, *, organization, actor, client, per_page, now) -> None:
    try:
        connection = FleetConnection.objects.for_org(organization).first()
        if connection is None:
            raise FleetError(gettext("This organization is not connected to Fleet."))
        own_client = client is None
        client = client or fleet_client_for(connection)
        listing = Listing()
        try:
            try:
                list_hosts(client, listing, organization=organization, now=now, per_page=per_page,
                           run=run, connection=connection)
            finally:
                if own_client:
                    client.close()
            lease.check()
            with transaction.atomic():
                if not lease.renew():  # fenced: the lease row stays locked until this commit
                    raise LeaseLost(LEASE_JOB)
                touched = apply_listing(listing, organization=organization, now=now, run=run, actor=actor)
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
    except LeaseLost:
        raise
    except FleetError as exc:
        _fail(run, lease, str(exc))
    except Exception as exc:  # a bug must not leave the run "running" forever; it is logged in full
        logger.exception("Fleet sync of %s crashed", organization.slug)
        _fail(run, lease, gettext("Internal error (%(error)s); nothing was changed.")
              % {"error": exc.__class__.__name__})


def _abandon_lapsed_runs(organization, lease: Lease, *, now: datetime) -> int:
    """Mark abandoned every run still "running": holding the lease, this run knows none of them is alive.

    Their listing was never applied (a run applies and records its success in one transaction), so nothing changed."""
    if lease.previous is not None:
        why = gettext("Its worker stopped without finishing (lease lapsed at %(time)s, held by %(holder)s); the next "
                      "sync marked it abandoned and took over. Nothing it listed was applied.")
        why %= lease.previous.details()
    else:
        why = gettext("Its worker stopped without finishing; the next sync marked it abandoned and took over. "
                      "Nothing it listed was applied.")
    count = SyncRun.objects.for_org(organization).filter(status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.ABANDONED, abandoned_at=now, error=why, updated_at=now)
    if count:
        logger.warning("Marked %d lapsed Fleet sync run(s) of %s abandoned", count, organization.slug)
    return count


def _counts(run: SyncRun) -> dict:
    return {"created": run.created, "updated": run.updated, "unchanged": run.unchanged, "not_seen": run.not_seen,
            "reenrolled": run.reenrolled, "hosts": run.hosts_listed}


def _fail(run: SyncRun, lease: Lease, message: str) -> None:
    """Record the failure; the counts of a failed run stay as listed, and no device was touched."""
    if not lease.renew():  # another run took over and marked this one abandoned: leave its record alone
        raise LeaseLost(LEASE_JOB)
    run.status, run.finished_at, run.error = SyncRun.Status.FAILED, timezone.now(), message[:5000]
    run.created = run.updated = run.not_seen = run.reenrolled = 0
    run.save()

