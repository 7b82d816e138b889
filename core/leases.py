"""Job leases (STYLE 17): a long job holds a short lease it renews while it works, never a long lock.

One database row per (organization, job) says who holds the job and until when (``leased_until``). Every move is a
single conditional ``UPDATE``, so it is atomic on PostgreSQL and SQLite alike, and needs neither the cache nor
Redis (either may be down or evicted):

- :func:`lease_acquire` takes the row only if it is free: released, or its ``leased_until`` has passed. A worker
  killed mid-job (SIGKILL, OOM, a lost node) stops renewing, so its lease lapses within ``JOB_LEASE_SECONDS``
  (90 s by default) and the next run takes over. ``Lease.previous`` then says whose lease lapsed and when, so the
  job can mark that worker's run abandoned.
- :meth:`Lease.renew` pushes ``leased_until`` forward, but only while this holder still has the row: it answers
  ``False`` (and sets ``lost``) once another run has taken over, and the job must then stop without writing.
  A job renews at its progress points, and :meth:`Lease.heartbeat` renews from a thread while one step is slow
  (a Fleet page that takes a minute). Renewing inside the job's final transaction fences it: the row stays
  locked until the commit, and a job that lost its lease rolls back instead of overwriting its successor's work.
- :meth:`Lease.release` frees the row at the end, so the next run need not wait for the TTL.

Times are the workers' clocks (``timezone.now()``), kept close by NTP; the TTL is far larger than any skew.
"""

import logging
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections, models
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 90


def lease_seconds() -> float:
    """The lease's time to live: ``settings.JOB_LEASE_SECONDS``, 90 s by default (tests set a few seconds)."""
    return float(getattr(settings, "JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


class JobLease(models.Model):
    """Who runs one organization's job right now, and until when unless they renew."""

    organization = models.ForeignKey("cockpit.Organization", on_delete=models.CASCADE, related_name="+")
    job = models.CharField(max_length=50)
    holder = models.CharField(max_length=32, blank=True, help_text="The holder's token; empty once released")
    holder_label = models.CharField(max_length=200, blank=True, help_text="host:pid of the holder, for people")
    acquired_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField()

    class Meta:
        app_label = "cockpit"
        constraints = [models.UniqueConstraint(fields=["organization", "job"], name="joblease_one_per_org_job")]

    def __str__(self):
        return f"{self.job} of {self.organization_id} until {self.leased_until:%H:%M:%S}"


class LeaseLost(Exception):
    """Another run took over this job: the lease lapsed while this one was stalled. Stop without writing."""


@dataclass(frozen=True)
class Lapsed:
    """A lease its holder never released: the worker died (or stalled past the TTL)."""

    holder_label: str
    leased_until: datetime
    renewed_at: datetime | None

    def details(self) -> dict:
        """``time`` and ``holder``, for a message saying when and whose lease lapsed."""
        return {"time": local_time(self.leased_until), "holder": self.holder_label or "?"}


def local_time(moment: datetime) -> str:
    """A lease's time in a message people read: local, to the second, with its zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


@dataclass
class Lease:
    pk: int
    organization_id: int
    job: str
    token: str
    ttl: float
    leased_until: datetime
    previous: Lapsed | None = None
    lost: bool = False

    def renew(self, *, now: datetime | None = None) -> bool:
        """Push the lease forward; ``False`` (and ``lost``) once another run holds it."""
        if self.lost:
            return False
        now = now or timezone.now()
        until = now + timedelta(seconds=self.ttl)
        if JobLease.objects.filter(pk=self.pk, holder=self.token).update(leased_until=until, renewed_at=now):
            self.leased_until = until
            return True
        self.lost = True
        logger.warning("Lease %s of organization %s was taken over by another run", self.job, self.organization_id)
        return False

    def check(self) -> None:
        """Raise :class:`LeaseLost` if the heartbeat (or a renewal) found that another run took over."""
        if self.lost:
            raise LeaseLost(self.job)

    def release(self) -> None:
        """Free the job for the next run at once (nothing happens if another run already took it over)."""
        now = timezone.now()
        JobLease.objects.filter(pk=self.pk, holder=self.token).update(holder="", leased_until=now, renewed_at=now)

    @contextmanager
    def heartbeat(self, interval: float | None = None):
        """Renew from a thread every third of the TTL while the block runs (its own database connection)."""
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(stop, interval or self.ttl / 3),
                                name=f"lease-{self.job}-{self.organization_id}", daemon=True)
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join()

    def _beat(self, stop: threading.Event, interval: float) -> None:
        try:
            while not stop.wait(interval):
                try:
                    if not self.renew():
                        return
                except DatabaseError:  # the database is busy or away for a moment: the next beat tries again
                    logger.warning("Could not renew lease %s of organization %s", self.job, self.organization_id,
                                   exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only


def lease_acquire(*, organization, job: str, ttl: float | None = None, now: datetime | None = None) -> Lease | None:
    """Take the organization's ``job`` lease, or ``None`` while another live run holds it."""
    now = now or timezone.now()
    ttl = ttl or lease_seconds()
    row, _ = JobLease.objects.get_or_create(organization_id=organization.pk, job=job[:50],
                                            defaults={"leased_until": now})
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=ttl)
    taken = JobLease.objects.filter(Q(holder="") | Q(leased_until__lte=now), pk=row.pk).update(
        holder=token, holder_label=f"{socket.gethostname()}:{os.getpid()}"[:200], acquired_at=now,
        renewed_at=now, leased_until=until,
    )
    if not taken:
        return None
    lapsed = row.holder and row.leased_until <= now  # not released: its worker died or stalled past the TTL
    previous = Lapsed(row.holder_label, row.leased_until, row.renewed_at) if lapsed else None
    if previous:
        logger.warning("Lease %s of organization %s lapsed at %s (held by %s): taking over", job, organization.pk,
                       previous.leased_until.isoformat(), previous.holder_label)
    return Lease(pk=row.pk, organization_id=organization.pk, job=job, token=token, ttl=ttl, leased_until=until,
                 previous=previous)


def lease_holder(*, organization, job: str) -> JobLease | None:
    """The live lease of this job, if a run holds one (for a page or a message saying until when)."""
    return JobLease.objects.filter(organization_id=organization.pk, job=job, leased_until__gt=timezone.now()) \
        .exclude(holder="").first()
