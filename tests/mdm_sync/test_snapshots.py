"""The daily snapshot behind the dashboard's trend charts: counts as the dashboard counts them, one row per
organization and day, idempotent, never another organization's figures."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mdm_sync.models import DailySnapshot, SyncRun
from mdm_sync.snapshots import daily_snapshot_take, sync_day
from mdm_sync.tasks import daily_snapshot_task, daily_snapshots_all
from tests.factories import DeviceFactory, EmployeeFactory, SyncRunFactory

DAY = date(2026, 11, 3)


def at(hour, minute=0, day=DAY):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def fleet(org, other_org):
    owner = EmployeeFactory(organization=org)
    common = {"organization": org}
    DeviceFactory(**common, availability_status="in_use", assignment_status="assigned", assignee=owner,
                  enrollment_status="enrolled")
    DeviceFactory(**common, availability_status="in_use", assignment_status="assigned", assignee=owner,
                  enrollment_status="partially_enrolled", enrollment_issues=["agent_missing"])
    DeviceFactory(**common, availability_status="in_stock", assignment_status="to_assign",
                  enrollment_status="awaiting_activation")
    DeviceFactory(**common, availability_status="in_use", assignment_status="to_assign",
                  enrollment_status="awaiting_user_assignment", fleet_missing_since=timezone.now())
    DeviceFactory(**common, availability_status="archived", assignment_status=None, enrollment_status="unenrolled")
    # The other organization's fleet and syncs must not leak into org's row.
    for _ in range(3):
        DeviceFactory(organization=other_org, availability_status="in_stock", assignment_status="to_assign")
    SyncRunFactory(organization=other_org, started_at=at(9), finished_at=at(9, 30))
    return org


def test_a_snapshot_counts_devices_as_the_dashboard_does(fleet):
    snapshot = daily_snapshot_take(organization=fleet, day=DAY)
    assert snapshot.day == DAY and snapshot.organization == fleet
    assert (snapshot.devices, snapshot.archived) == (4, 1)  # archived counted apart, never in the total
    assert (snapshot.in_use_assigned, snapshot.in_stock, snapshot.in_use_to_assign) == (2, 1, 1)
    assert (snapshot.enrolled, snapshot.partially_enrolled, snapshot.awaiting_activation,
            snapshot.awaiting_user_assignment, snapshot.unenrolled) == (1, 1, 1, 1, 0)
    assert snapshot.not_seen_in_fleet == 1
    syncs = (snapshot.sync_runs, snapshot.sync_failures, snapshot.sync_seconds, snapshot.sync_outcome)
    assert syncs == (0, 0, None, "")


def test_the_days_syncs_their_mean_duration_failures_and_last_outcome(org):
    SyncRunFactory(organization=org, started_at=at(0, 0), finished_at=at(0, 0) + timedelta(seconds=20))
    SyncRunFactory(organization=org, started_at=at(0, 30), finished_at=at(0, 30) + timedelta(seconds=40))
    SyncRunFactory(organization=org, started_at=at(1), finished_at=at(1, 1), status=SyncRun.Status.FAILED,
                   error="Fleet answered 502")
    SyncRunFactory(organization=org, started_at=at(2), finished_at=None, status=SyncRun.Status.ABANDONED,
                   abandoned_at=at(3), error="worker died")
    SyncRunFactory(organization=org, started_at=at(5), status=SyncRun.Status.SKIPPED)  # not a run of its own
    SyncRunFactory(organization=org, started_at=at(23, 30), finished_at=at(23, 31))  # 60 s, the day's last
    SyncRunFactory(organization=org, started_at=at(0, 0, DAY + timedelta(days=1)))  # the next day's
    SyncRunFactory(organization=org, started_at=at(23, 59, DAY - timedelta(days=1)))  # the day before's
    day = sync_day(organization=org, day=DAY)
    assert (day.runs, day.failures, day.seconds, day.outcome) == (5, 2, 40.0, "succeeded")


def test_taking_a_day_again_updates_its_row(fleet, django_assert_max_num_queries):
    first = daily_snapshot_take(organization=fleet, day=DAY)
    DeviceFactory(organization=fleet, availability_status="in_stock", assignment_status="to_assign")
    with django_assert_max_num_queries(8):
        again = daily_snapshot_take(organization=fleet, day=DAY)
    assert again.pk == first.pk and again.in_stock == 2 and again.devices == 5
    assert DailySnapshot.objects.for_org(fleet).count() == 1
    assert again.taken_at >= first.taken_at


def test_one_row_per_organization_and_day_is_a_database_rule(org):
    daily_snapshot_take(organization=org, day=DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        DailySnapshot.objects.create(organization=org, day=DAY, taken_at=timezone.now())


def test_the_tasks_fan_out_one_snapshot_per_organization_for_today(fleet, other_org, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # Celery reads the Django setting live; never pin app.conf in a test
    assert daily_snapshots_all() == {"queued": 2}
    assert daily_snapshots_all() == {"queued": 2}  # a second run the same day: same rows, updated
    today = timezone.now().astimezone(UTC).date()
    rows = {s.organization_id: s for s in DailySnapshot.objects.filter(day=today)}
    assert set(rows) == {fleet.pk, other_org.pk} and DailySnapshot.objects.count() == 2
    assert rows[fleet.pk].devices == 4 and rows[other_org.pk].devices == 3
    assert rows[other_org.pk].sync_runs == 0  # its 9:00 run was on another day
    assert daily_snapshot_task(999_999) == {"organization": 999_999, "status": "gone"}
    assert daily_snapshot_task(fleet.pk)["day"] == today.isoformat()


def test_the_beat_schedule_takes_snapshots_once_a_day():
    from cockpit.celery import app

    entry = app.conf.beat_schedule["daily-snapshots"]
    assert entry["task"] == "mdm_sync.tasks.daily_snapshots_all"
    assert entry["schedule"].hour == {23} and entry["schedule"].minute == {50}
