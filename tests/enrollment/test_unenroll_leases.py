"""Auto-unenrollment on a lease (issue #12 §1): a run killed mid-purge is marked abandoned by the next one, which
purges what is left, once, even the device Fleet had already released when the worker died."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import IllegalTransition
from core.leases import JobLease, Lease, lease_acquire, lease_holder
from devices.models import DeviceHistory
from enrollment import tasks, unenroll
from enrollment.models import AutoUnenrollRun
from enrollment.unenroll import LEASE_JOB, auto_unenroll_run
from tests.enrollment.test_unenroll import SYSTEM, fleet, reload  # noqa: F401 - the fixture

ORIGINAL_RELEASE = unenroll.host_release


class WorkerKilled(BaseException):
    """SIGKILL in the middle of a purge: nothing after this line of the worker runs (not even ``finally``)."""


def kill_after_fleet_call_of_the_second_device(monkeypatch):
    calls = []

    def release_then_die(**kwargs):
        error = ORIGINAL_RELEASE(**kwargs)
        calls.append(kwargs["host_id"])
        if len(calls) == 2:  # Fleet released it; the cockpit never got to record it
            raise WorkerKilled
        return error

    monkeypatch.setattr(unenroll, "host_release", release_then_die)
    monkeypatch.setattr(Lease, "release", lambda self: None)  # a killed worker frees nothing
    return calls


def the_lease_lapses(org):
    """The clock moves past the lease: the dead worker renewed it for the last time more than a TTL ago."""
    JobLease.objects.filter(organization=org, job=LEASE_JOB).update(
        leased_until=timezone.now() - timedelta(seconds=1))


def test_a_run_killed_mid_purge_is_abandoned_and_the_next_one_purges_the_rest(fleet, sim, monkeypatch):  # noqa: F811
    org, old, older = fleet["org"], fleet["old"], fleet["older"]
    with monkeypatch.context() as patch:
        calls = kill_after_fleet_call_of_the_second_device(patch)
        with pytest.raises(WorkerKilled):
            auto_unenroll_run(organization=org, actor=SYSTEM)
    killed = AutoUnenrollRun.objects.get()
    assert killed.status == "running" and len(killed.purged_ids) == 1  # its progress, saved device by device
    second = older if killed.purged_ids == [old.pk] else old
    assert sim.host_json(second.fleet_host_id) is None and reload(second).unenrolled_at is None
    assert len(calls) == 2

    with pytest.raises(IllegalTransition):  # its lease is still live: nobody takes over yet
        auto_unenroll_run(organization=org, actor=SYSTEM)
    assert tasks.auto_unenroll_organization_task(org.pk)["status"] == "running"

    the_lease_lapses(org)
    run = auto_unenroll_run(organization=org, actor=SYSTEM)
    assert run.status == "succeeded" and run.purged_ids == [second.pk]  # Fleet's "not found" is a done release
    killed.refresh_from_db()
    assert killed.status == "abandoned" and killed.abandoned_at and killed.finished_at
    assert "lease lapsed at" in killed.message
    assert reload(old).unenrolled_at and reload(older).unenrolled_at
    assert DeviceHistory.objects.filter(action="unenrolled").count() == 2  # each device once
    assert lease_holder(organization=org, job=LEASE_JOB) is None


def test_a_redelivered_task_after_a_finished_run_purges_nothing_twice(fleet):  # noqa: F811
    first = tasks.auto_unenroll_organization_task(fleet["org"].pk)
    again = tasks.auto_unenroll_organization_task(fleet["org"].pk)
    assert first["status"] == "succeeded" and first["purged"] == 2
    assert again["status"] == "nothing" and again["purged"] == 0
    assert not AutoUnenrollRun.objects.filter(status__in=["running", "abandoned"]).exists()


def test_a_run_that_lost_its_lease_mid_purge_stops_and_writes_nothing_more(fleet, monkeypatch):  # noqa: F811
    org = fleet["org"]

    calls = []

    def release_then_stall(**kwargs):
        calls.append(kwargs["host_id"])
        JobLease.objects.filter(organization=org, job=LEASE_JOB).update(holder="successor")
        return ORIGINAL_RELEASE(**kwargs)

    monkeypatch.setattr(unenroll, "host_release", release_then_stall)
    run = auto_unenroll_run(organization=org, actor=SYSTEM)
    # Fleet released the first device, so it is recorded; then the run stops: one Fleet call, not two.
    assert run.status == "running" and len(run.purged_ids) == 1 and len(calls) == 1
    assert DeviceHistory.objects.filter(action="unenrolled").count() == 1


def test_abandoned_runs_are_shown_on_the_remote_management_page(cockpit_client, org):
    past = timezone.now() - timedelta(minutes=5)
    lease_acquire(organization=org, job=LEASE_JOB, ttl=60, now=past)
    AutoUnenrollRun.objects.create(organization=org, status="running", actor_label="auto-unenrollment",
                                   threshold_days=30, enrolled_count=10, candidate_ids=[1, 2], purged_ids=[1])
    unenroll._abandon_lapsed_runs(org, lease_acquire(organization=org, job=LEASE_JOB))
    body = cockpit_client.get(reverse("remote_management", args=[org.slug])).content.decode()
    assert "Abandoned: its worker stopped" in body and "lease lapsed at" in body
