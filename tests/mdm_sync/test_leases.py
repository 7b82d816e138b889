"""Nothing stays stuck (issue #12 §1): the job lease (``core.leases``) and the sync that holds it.

A run holds a short lease it renews; a run whose worker died is marked ``abandoned`` by the next run, which syncs.
The last test kills a real ``fleet_sync`` process mid-listing (SIGKILL) and shows the next one taking over."""

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.actors import Actor
from core.leases import JobLease, lease_acquire, lease_holder
from devices.models import Device
from mdm_sync import sync
from mdm_sync.models import SyncRun
from mdm_sync.simulator import FleetSimulator
from mdm_sync.sync import LEASE_JOB
from mdm_sync.sync_listing import list_hosts
from tests.conftest import sync_now
from tests.factories import OrganizationFactory
from tests.worker_processes import LEASE_SECONDS, Commands, embedded_env, migrated_database, rows

SYSTEM = Actor.system("tests")


def crashed_run(org, *, lapsed_seconds_ago: float = 5) -> SyncRun:
    """What a worker killed mid-sync leaves: its run "running" and its lease no longer renewed (lapsed since)."""
    past = timezone.now() - timedelta(seconds=90 + lapsed_seconds_ago)
    assert lease_acquire(organization=org, job=LEASE_JOB, ttl=90, now=past) is not None
    return SyncRun.objects.create(organization=org, trigger="schedule", actor_label="fleet_sync", started_at=past)


# ---- the lease --------------------------------------------------------------------------------------------------


def test_a_lease_is_held_until_released_per_organization_and_job(org, other_org):
    lease = lease_acquire(organization=org, job="fleet-sync")
    assert lease is not None and lease.previous is None
    assert lease_acquire(organization=org, job="fleet-sync") is None
    assert lease_acquire(organization=other_org, job="fleet-sync") is not None  # another organization
    assert lease_acquire(organization=org, job="auto-unenroll") is not None  # another job
    assert lease_holder(organization=org, job="fleet-sync").holder == lease.token
    lease.release()
    assert lease_holder(organization=org, job="fleet-sync") is None
    again = lease_acquire(organization=org, job="fleet-sync")
    assert again is not None and again.previous is None  # released, not lapsed
    assert JobLease.objects.filter(organization=org, job="fleet-sync").count() == 1


def test_a_lapsed_lease_is_taken_over_and_its_holder_loses_it(org):
    now = timezone.now()
    first = lease_acquire(organization=org, job="fleet-sync", ttl=60, now=now)
    assert lease_acquire(organization=org, job="fleet-sync", now=now + timedelta(seconds=59)) is None
    assert first.renew(now=now + timedelta(seconds=30))  # renewed: now held until +90 s
    assert lease_acquire(organization=org, job="fleet-sync", now=now + timedelta(seconds=89)) is None
    second = lease_acquire(organization=org, job="fleet-sync", now=now + timedelta(seconds=91))
    assert second is not None and second.previous.leased_until == now + timedelta(seconds=90)
    assert ":" in second.previous.holder_label  # host:pid
    assert not first.renew() and first.lost  # the stalled first holder finds out at its next renewal
    first.release()  # and cannot free what it no longer holds
    assert lease_holder(organization=org, job="fleet-sync").holder == second.token


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_from_a_thread_while_the_job_works():
    org = OrganizationFactory(slug="beat")
    lease = lease_acquire(organization=org, job="fleet-sync", ttl=1.5)
    with lease.heartbeat(interval=0.25):
        time.sleep(3)  # twice the TTL: only the heartbeat keeps it
        assert lease_acquire(organization=org, job="fleet-sync") is None
    assert not lease.lost
    time.sleep(1.6)  # not released (as if killed right here) and no longer renewed: it lapses
    assert lease_acquire(organization=org, job="fleet-sync") is not None


# ---- the sync on a lease ----------------------------------------------------------------------------------------


def test_the_next_sync_marks_a_crashed_run_abandoned_and_syncs(connected, sim_readonly):
    stuck = crashed_run(connected)
    run = sync_now(connected, sim_readonly)
    assert run.status == "succeeded" and run.hosts_listed == 120 and Device.objects.for_org(connected).exists()
    stuck.refresh_from_db()
    assert stuck.status == "abandoned" and stuck.abandoned_at is not None and stuck.finished_at is None
    assert "lease lapsed at" in stuck.error and "Nothing it listed was applied" in stuck.error
    assert lease_holder(organization=connected, job=LEASE_JOB) is None  # released at the end


def test_a_run_left_running_by_the_old_lock_is_abandoned_too(connected, sim_readonly):
    legacy = SyncRun.objects.create(organization=connected, trigger="schedule", started_at=timezone.now())
    assert sync_now(connected, sim_readonly).status == "succeeded"
    legacy.refresh_from_db()
    assert legacy.status == "abandoned" and "stopped without finishing" in legacy.error


def test_a_live_run_is_not_abandoned_the_second_one_is_skipped(connected, sim_readonly):
    live = lease_acquire(organization=connected, job=LEASE_JOB)
    running = SyncRun.objects.create(organization=connected, trigger="schedule", started_at=timezone.now())
    assert sync_now(connected, sim_readonly).status == "skipped"
    running.refresh_from_db()
    assert running.status == "running"
    live.release()
    assert sync_now(connected, sim_readonly).status == "succeeded"


def test_a_sync_that_lost_its_lease_applies_nothing(connected, sim_readonly, monkeypatch):
    """Stalled past its lease (a paused VM), the run finds another took over before it applies: it writes nothing."""
    def list_then_stall(*args, **kwargs):
        list_hosts(*args, **kwargs)
        JobLease.objects.filter(organization=connected, job=LEASE_JOB).update(holder="successor")

    monkeypatch.setattr(sync, "list_hosts", list_then_stall)
    run = sync_now(connected, sim_readonly)
    assert run.status == "running"  # left for the successor, which marks it abandoned
    assert not Device.objects.for_org(connected).exists()


def test_abandoned_runs_are_shown_on_the_sync_page_and_in_the_api(cockpit_client, api, connected, sim_readonly):
    stuck = crashed_run(connected)
    sync_now(connected, sim_readonly)
    body = cockpit_client.get(f"/o/{connected.slug}/sync/").content.decode()
    assert "Abandoned" in body and "syncrun-abandoned" in body and "lease lapsed at" in body
    listed = api.get("/api/v1/sync-runs/", {"status": "abandoned"}).json()
    assert [row["id"] for row in listed["results"]] == [stuck.pk]
    assert listed["results"][0]["abandoned_at"] is not None
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    status_enums = [enum["enum"] for name, enum in schema["components"]["schemas"].items() if "enum" in enum
                    and "succeeded" in enum["enum"] and "skipped" in enum["enum"]]
    assert status_enums and all("abandoned" in enum for enum in status_enums)


# ---- a real worker killed mid-sync ------------------------------------------------------------------------------

TOKEN = "lease-test-token"
RUNS = """
from mdm_sync.models import SyncRun
for run in SyncRun.objects.order_by("id"):
    print("RUN", run.pk, run.status, run.abandoned_at is not None, "|", run.error)
"""


@pytest.mark.slow
def test_a_killed_sync_worker_is_abandoned_by_the_next_sync(tmp_path):
    """SQLite in a temporary folder, a 3 s lease (settings), a Fleet whose first page takes 30 s to answer."""
    env = embedded_env(tmp_path)
    migrated_database(tmp_path)
    commands = Commands(env)  # the commands and the sync it kills, forked from one Django process
    manage = commands.manage

    def runs() -> list[list[str]]:
        table = SyncRun._meta.db_table
        return [[str(pk), status, str(bool(abandoned))] for pk, status, abandoned in
                rows(tmp_path, f"SELECT id, status, abandoned_at IS NOT NULL FROM {table} ORDER BY id")]

    with commands, FleetSimulator(hosts=30, seed=5, token=TOKEN) as sim:
        manage("create_org", "acme", "--name", "Acme")
        manage("fleet_connect", "acme", "--url", sim.base_url, "--token", TOKEN)
        sim.faults.delay_seconds_on_page[0] = 30
        sim.requests_log.clear()  # connecting tested the connection
        with commands.running("manage.py", "fleet_sync", "acme") as worker:
            deadline = time.monotonic() + 60
            while not any(path.startswith("/api/v1/fleet/hosts?") for _, path in sim.requests_log):
                assert time.monotonic() < deadline and worker.poll() is None, "the sync never listed a page"
                time.sleep(0.2)
            assert runs() == [["1", "running", "False"]], manage("shell", "-c", RUNS)
            time.sleep(LEASE_SECONDS * 1.5)  # past the TTL: only the worker's heartbeat keeps the lease
            assert "Sync skipped" in manage("fleet_sync", "acme", check=False)  # alive, so not abandoned
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert runs()[0] == ["1", "running", "False"]  # what a killed worker leaves behind

        killed_at = time.monotonic()
        sim.faults.delay_seconds_on_page.clear()
        time.sleep(LEASE_SECONDS + 0.5)
        assert "30 hosts" in manage("fleet_sync", "acme")
        assert time.monotonic() - killed_at < 120
        assert runs() == [["1", "abandoned", "True"], ["2", "skipped", "False"], ["3", "succeeded", "False"]]
        abandoned = next(line for line in manage("shell", "-c", RUNS).splitlines() if line.startswith("RUN 1 "))
        assert "lease lapsed at" in abandoned and "Nothing it listed was applied" in abandoned
