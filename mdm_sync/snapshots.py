"""The daily snapshot of an organization's fleet, for the dashboard's trend charts (issue #14 §5).

Once a day (beat, ``mdm_sync.tasks.daily_snapshots_all``) each organization's device counts (as the dashboard
counts them: ``devices.selectors.device_status_counts``) and that day's Fleet syncs are written to one
:class:`~mdm_sync.models.DailySnapshot` row. Taking a day again replaces its figures: a redelivered or re-run
job changes nothing but the time they were read. Nothing is backfilled: history starts the first night."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from devices.models import AssignmentStatus, AvailabilityStatus, EnrollmentStatus
from devices.selectors import device_status_counts
from mdm_sync.models import DailySnapshot, SyncRun

FAILED = (SyncRun.Status.FAILED, SyncRun.Status.ABANDONED)  # a dead worker is a failure, as in sync health


@dataclass(frozen=True)
class SyncDay:
    runs: int
    failures: int
    seconds: float | None  # mean duration of the successful runs
    outcome: str  # how the last run ended, "" when none ran


def sync_day(*, organization, day: date) -> SyncDay:
    """The organization's Fleet syncs started on ``day`` (UTC), skipped ones aside; one query."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    rows = list(
        SyncRun.objects.for_org(organization)
        .filter(started_at__gte=start, started_at__lt=start + timedelta(days=1))
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("started_at", "id")
        .values_list("status", "started_at", "finished_at")
    )
    durations = [(finished - started).total_seconds() for status, started, finished in rows
                 if status == SyncRun.Status.SUCCEEDED and finished is not None]
    return SyncDay(
        runs=len(rows),
        failures=sum(1 for status, _started, _finished in rows if status in FAILED),
        seconds=round(sum(durations) / len(durations), 1) if durations else None,
        outcome=rows[-1][0] if rows else "",
    )


def daily_snapshot_take(*, organization, day: date | None = None) -> DailySnapshot:
    """Record (or record again) the organization's figures for ``day`` (today, UTC, by default). The device counts
    are those of the moment it runs, so the job runs late in the day; the syncs are that day's."""
    now = timezone.now()
    day = day or now.astimezone(UTC).date()
    counts = device_status_counts(organization=organization)
    assignment, enrollment = counts["assignment"], counts["enrollment"]
    archived = counts["availability"].get(AvailabilityStatus.ARCHIVED, 0)
    syncs = sync_day(organization=organization, day=day)
    figures = {
        "taken_at": now,
        "devices": counts["total"] - archived,
        "in_use_assigned": assignment.get(f"{AvailabilityStatus.IN_USE}:{AssignmentStatus.ASSIGNED}", 0),
        "in_stock": assignment.get(f"{AvailabilityStatus.IN_STOCK}:{AssignmentStatus.TO_ASSIGN}", 0),
        "in_use_to_assign": assignment.get(f"{AvailabilityStatus.IN_USE}:{AssignmentStatus.TO_ASSIGN}", 0),
        "archived": archived,
        "not_seen_in_fleet": counts["not_seen_in_fleet"],
        **{status: enrollment.get(status, 0) for status in EnrollmentStatus.values},
        "sync_runs": syncs.runs,
        "sync_failures": syncs.failures,
        "sync_seconds": syncs.seconds,
        "sync_outcome": syncs.outcome,
    }
    snapshot, _created = DailySnapshot.objects.update_or_create(organization=organization, day=day, defaults=figures)
    return snapshot
