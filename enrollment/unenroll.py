"""Auto-unenrollment (DESIGN §9): devices silent for the organization's threshold are removed from Fleet
(host deleted, or MDM turned off, per setting), marked ``unenrolled`` with their owner kept, and
their employee re-invited when the organization asks for it.

A run holds the organization's ``auto-unenroll`` lease (``core.leases``: short, renewed after each device and by a
heartbeat), never a long lock. A run that purges is recorded ``running`` before its first Fleet call and saves what it
purged as it goes; if its worker dies, the next run (within ``JOB_LEASE_SECONDS``) marks it abandoned and purges what
is left: a device already released in Fleet is released again as a no-op, so a redelivered run is harmless.

Guards: nothing happens when the last successful sync is older than two sync periods (the silence
could be ours); a run that would purge more than the allowed share of the enrolled devices stops and
records itself as ``blocked`` for an admin to confirm; exempt devices (legal hold) are never purged.
:func:`auto_unenroll_plan` is both the preview and what the run purges.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import IllegalTransition, InvalidInput
from core.leases import Lease, LeaseLost, lease_acquire
from core.models import Organization
from devices import services as device_services
from devices.models import AvailabilityStatus, Device
from enrollment.models import AutoUnenrollRun, Invitation
from enrollment.services import invitation_send
from mdm_sync.actions import NOT_CONNECTED, host_release
from mdm_sync.selectors import sync_health

logger = logging.getLogger(__name__)

SYNC_PERIOD = timedelta(minutes=30)
LEASE_JOB = "auto-unenroll"


@dataclass
class Plan:
    threshold_days: int
    enrolled_count: int
    devices: list[Device] = field(default_factory=list)
    stale_sync: bool = False
    last_sync_at: datetime | None = None
    max_share_percent: int = 10
    connected: bool = True  # to Fleet: a run purges nothing without a connection

    @property
    def share_percent(self) -> float:
        return round(100 * len(self.devices) / self.enrolled_count, 1) if self.enrolled_count else 0.0

    @property
    def over_share(self) -> bool:
        return bool(self.devices) and self.share_percent > self.max_share_percent

    @property
    def device_ids(self) -> list[int]:
        return [device.pk for device in self.devices]


def _managed(organization):
    """Devices the MDM currently holds: known to Fleet, activated, not unenrolled, not archived."""
    return (Device.objects.for_org(organization)
            .filter(fleet_host_id__isnull=False, mdm_enrolled_at__isnull=False, unenrolled_at__isnull=True)
            .exclude(availability_status=AvailabilityStatus.ARCHIVED))


def auto_unenroll_plan(*, organization: Organization, now: datetime | None = None) -> Plan:
    """Which devices a run now would purge, and whether a guard stops it. The preview shows exactly this."""
    now = now or timezone.now()
    managed = _managed(organization)
    plan = Plan(threshold_days=organization.auto_unenroll_after_days, enrolled_count=managed.count(),
                max_share_percent=organization.auto_unenroll_max_share_percent)
    health = sync_health(organization=organization)
    plan.connected = health.connected
    last = health.last_success
    plan.last_sync_at = (last.finished_at or last.started_at) if last else None
    plan.stale_sync = plan.last_sync_at is None or now - plan.last_sync_at > 2 * SYNC_PERIOD
    cutoff = now - timedelta(days=organization.auto_unenroll_after_days)
    plan.devices = list(
        managed.filter(auto_unenroll_exempt=False, last_seen_at__lt=cutoff)
        .select_related("assignee").order_by("last_seen_at", "id")
    )
    return plan


def auto_unenroll_run(*, organization: Organization, actor: Actor, now: datetime | None = None,
                      confirm_run: AutoUnenrollRun | None = None, client=None) -> AutoUnenrollRun | None:
    """One run; returns its record (None when the organization has auto-unenrollment off).

    ``confirm_run``: an admin confirms a blocked run; only the devices it listed that the plan still
    purges are purged, past the share guard (never past the stale-sync guard).
    """
    if not organization.auto_unenroll_enabled and confirm_run is None:
        return None
    lease = lease_acquire(organization=organization, job=LEASE_JOB)
    if lease is None:
        raise IllegalTransition(gettext("An auto-unenrollment run of this organization is already in progress."))
    try:
        _abandon_lapsed_runs(organization, lease)
        with lease.heartbeat():
            return _run(organization=organization, actor=actor, now=now or timezone.now(), confirm_run=confirm_run,
                        client=client, lease=lease)
    finally:
        lease.release()


def _abandon_lapsed_runs(organization, lease: Lease) -> int:
    """Holding the lease, this run knows no run still "running" is alive: mark them abandoned, saying why."""
    now = timezone.now()
    when = gettext(" (lease lapsed at %(time)s)") % lease.previous.details() if lease.previous else ""
    why = gettext("Its worker stopped before the end%(when)s; the next run took over the devices it had not "
                  "purged yet.") % {"when": when}
    count = AutoUnenrollRun.objects.for_org(organization).filter(status=AutoUnenrollRun.Status.RUNNING).update(
        status=AutoUnenrollRun.Status.ABANDONED, abandoned_at=now, finished_at=now, message=why[:500], updated_at=now)
    if count:
        logger.warning("Marked %d lapsed auto-unenrollment run(s) of %s abandoned", count, organization.slug)
    return count


def _run(*, organization, actor, now, confirm_run, client, lease: Lease) -> AutoUnenrollRun:
    plan = auto_unenroll_plan(organization=organization, now=now)
    run = AutoUnenrollRun(organization=organization, actor_label=actor.label[:200], threshold_days=plan.threshold_days,
                          enrolled_count=plan.enrolled_count, candidate_ids=plan.device_ids)
    if confirm_run is not None:
        if confirm_run.organization_id != organization.pk or confirm_run.status != AutoUnenrollRun.Status.BLOCKED:
            raise IllegalTransition(gettext("Only a stopped run can be confirmed, once."))
        approved = set(confirm_run.candidate_ids)
        plan.devices = [device for device in plan.devices if device.pk in approved]
        run.candidate_ids = plan.device_ids
    if plan.stale_sync:
        run.status = AutoUnenrollRun.Status.STALE_SYNC
        run.message = gettext("The last successful Fleet sync is older than two sync periods: devices may look silent "
                              "because of us. Nothing was purged.")
    elif not plan.devices:
        run.status = AutoUnenrollRun.Status.NOTHING
    elif plan.over_share and confirm_run is None:
        run.status = AutoUnenrollRun.Status.BLOCKED
        run.message = (f"{len(plan.devices)} of {plan.enrolled_count} enrolled devices ({plan.share_percent} %) "
                       f"would be purged, more than the {plan.max_share_percent} % allowed: an admin must confirm.")
    else:
        run.status = AutoUnenrollRun.Status.RUNNING
        run.save()  # before the first Fleet call: a worker killed mid-purge leaves a run the next one marks abandoned
        run.status = AutoUnenrollRun.Status.CONFIRMED if confirm_run else AutoUnenrollRun.Status.SUCCEEDED
    try:
        if run.pk:
            _purge(run, plan, organization=organization, actor=actor, client=client, lease=lease)
        return _record(run, organization=organization, actor=actor, confirm_run=confirm_run, lease=lease)
    except LeaseLost:  # stalled past the lease: the run that took over marked this one abandoned; write nothing
        logger.warning("Auto-unenrollment of %s lost its lease to another run", organization.slug)
        if run.pk:
            run.refresh_from_db()
        return run


def _record(run: AutoUnenrollRun, *, organization, actor, confirm_run, lease: Lease) -> AutoUnenrollRun:
    run.finished_at = timezone.now()
    if run.status == AutoUnenrollRun.Status.BLOCKED:
        waiting = AutoUnenrollRun.objects.for_org(organization).first()
        if (waiting is not None and waiting.status == AutoUnenrollRun.Status.BLOCKED and waiting.confirmed_at is None
                and sorted(waiting.candidate_ids) == sorted(run.candidate_ids)):
            return waiting  # still waiting for an admin on the same devices: no new record every hour
    with transaction.atomic():
        if not lease.renew():  # fenced: the lease row stays locked until this commit
            raise LeaseLost(LEASE_JOB)
        run.save()
        if confirm_run is not None and run.status != AutoUnenrollRun.Status.STALE_SYNC:
            confirm_run.confirmed_at = run.finished_at
            confirm_run.save(update_fields=["confirmed_at", "updated_at"])
        if run.status == AutoUnenrollRun.Status.NOTHING:
            return run  # recorded for the job's health, not worth an audit line every hour
        audit_record(organization=organization, actor=actor, event=f"auto_unenroll.{run.status}", target=run,
                     source=Source.ENROLLMENT,
                     after={"candidates": len(run.candidate_ids), "purged": len(run.purged_ids),
                            "failed": len(run.errors), "enrolled": run.enrolled_count})
    return run


def _purge(run: AutoUnenrollRun, plan: Plan, *, organization, actor, client, lease: Lease) -> None:
    """``client``: a Fleet client to use for every device (a test's simulator); by default ``mdm_sync`` opens its own
    for each release. After each device the run's progress is saved and the lease renewed (a progress point)."""
    if client is None and not plan.connected:
        run.status, run.message = AutoUnenrollRun.Status.FAILED, str(NOT_CONNECTED)
        return
    turn_off_mdm = organization.auto_unenroll_action == Organization.AutoUnenrollAction.TURN_OFF_MDM
    reinvite = organization.auto_unenroll_reinvite
    invited: set[int] = set()
    reason = Phrase("enrollment.auto_unenrolled", {"days": plan.threshold_days})
    for device in plan.devices:
        lease.check()
        error = host_release(organization=organization, host_id=device.fleet_host_id, turn_off_mdm=turn_off_mdm,
                             client=client)
        if error:
            run.errors[str(device.pk)] = error
        else:
            device_services.device_mark_unenrolled(device=device, actor=actor, source=Source.ENROLLMENT,
                                                   reason=reason)
            run.purged_ids.append(device.pk)
            employee = device.assignee
            if reinvite and employee is not None and employee.is_active and employee.pk not in invited:
                try:
                    invitation_send(employee=employee, actor=actor, reason=Invitation.Reason.AUTO_UNENROLL,
                                    detail=f"{device} was removed after {plan.threshold_days} days offline")
                except InvalidInput:
                    pass
                else:
                    invited.add(employee.pk)
        run.reinvited = len(invited)
        _progress(run, lease)
    if run.errors and not run.purged_ids:
        run.status = AutoUnenrollRun.Status.FAILED
    if run.errors:
        run.message = f"Fleet refused {len(run.errors)} device(s); they are tried again next run."


def _progress(run: AutoUnenrollRun, lease: Lease) -> None:
    """Save what the run did so far (its status stays "running") and renew the lease; stop if another run took over."""
    AutoUnenrollRun.objects.filter(pk=run.pk, status=AutoUnenrollRun.Status.RUNNING).update(
        purged_ids=run.purged_ids, errors=run.errors, reinvited=run.reinvited, updated_at=timezone.now())
    if not lease.renew():
        raise LeaseLost(LEASE_JOB)
