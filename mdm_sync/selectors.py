from dataclasses import dataclass

from mdm_sync.models import FleetConnection, SyncRun


def sync_run_list(*, organization):
    return SyncRun.objects.for_org(organization)


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
