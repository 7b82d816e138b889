from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mdm_sync.models import DailySnapshot, FleetConnection, SyncRun


def sync_run_list(*, organization):
    return SyncRun.objects.for_org(organization)


# How long the Sync page waits, after "Sync now", for a worker to start the run before it stops watching.
SYNC_WAIT_SECONDS = 5 * 60


@dataclass(frozen=True)
class SyncLive:
    """What the Sync page watches without a reload: a run in progress, or one asked for (``since``) not started yet."""
    running: SyncRun | None
    waiting: bool

    @property
    def active(self) -> bool:
        return self.running is not None or self.waiting


def sync_live(*, organization, since: datetime | None, now: datetime) -> SyncLive:
    runs = SyncRun.objects.for_org(organization)
    running = runs.filter(status=SyncRun.Status.RUNNING).order_by("-started_at").first()
    waiting = (running is None and since is not None and now - since < timedelta(seconds=SYNC_WAIT_SECONDS)
               and not runs.filter(started_at__gte=since).exists())
    return SyncLive(running=running, waiting=waiting)


@dataclass(frozen=True)
class SyncHealth:
    connected: bool
    last_run: SyncRun | None
    last_success: SyncRun | None
    failing_since: SyncRun | None  # the first failed run after the last success
    connection: FleetConnection | None = None

    @property
    def apns_expired(self) -> bool:
        return bool(self.connection and self.connection.apns_expired())

    @property
    def apns_expiring_soon(self) -> bool:
        return bool(self.connection and self.connection.apns_expiring_soon())

    @property
    def ok(self) -> bool:
        return self.connected and self.failing_since is None and self.last_success is not None


def sync_health(*, organization) -> SyncHealth:
    runs = SyncRun.objects.for_org(organization).exclude(status=SyncRun.Status.SKIPPED)
    last_success = runs.filter(status=SyncRun.Status.SUCCEEDED).first()
    failures = runs.filter(status__in=[SyncRun.Status.FAILED, SyncRun.Status.ABANDONED])  # a dead worker is a failure
    if last_success is not None:
        failures = failures.filter(started_at__gt=last_success.started_at)
    connection = FleetConnection.objects.for_org(organization).first()
    return SyncHealth(
        connected=connection is not None,
        connection=connection,
        last_run=runs.first(),
        last_success=last_success,
        failing_since=failures.order_by("started_at", "id").first(),
    )


def daily_snapshots(*, organization, days: int, today: date) -> list[DailySnapshot]:
    """The organization's daily snapshots of the ``days`` days ending ``today``, oldest first; one query."""
    since = today - timedelta(days=days - 1)
    return list(DailySnapshot.objects.for_org(organization).filter(day__gte=since, day__lte=today).order_by("day"))
