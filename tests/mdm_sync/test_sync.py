"""The sync end to end: simulator (real HTTP) → sync_organization → database."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.actors import Actor
from core.leases import lease_acquire
from core.models import AuditEvent
from devices import services as device_services
from devices.models import Device
from mdm_sync import sync_listing
from mdm_sync.fleet import FleetClient
from mdm_sync.sync import sync_organization
from mdm_sync.sync_facts import DETAILS_ROUND, details_round
from tests.conftest import SIM_NOW, SIM_TOKEN, sync_now

TOKEN, NOW = SIM_TOKEN, SIM_NOW
SYSTEM = Actor.system("tests")
sync = sync_now


def snapshot(org):
    return list(Device.objects.for_org(org).order_by("pk").values())


def device_of(org, host_id):
    return Device.objects.for_org(org).get(fleet_host_id=host_id)


def one_host(sim, situation):
    return next(h for h in sim.host_ids() if sim.situation(h) == situation)


def test_first_sync_creates_a_device_per_physical_device(connected, sim_readonly):
    run = sync(connected, sim_readonly)
    assert run.status == "succeeded", run.error
    pairs = sum(1 for h in sim_readonly.host_ids() if sim_readonly.situation(h) == "duplicate_stale")
    assert run.created == len(sim_readonly.host_ids()) - pairs == Device.objects.for_org(connected).count()
    assert (run.hosts_listed, run.fleet_count, run.pages) == (120, 120, 5)
    healthy = device_of(connected, one_host(sim_readonly, "healthy"))
    assert (healthy.availability_status, healthy.assignment_status) == ("in_use", "to_assign")
    assert healthy.enrollment_status == "awaiting_user_assignment" and healthy.mdm_enrolled_at == NOW
    assert healthy.fleet_emails and healthy.last_seen_at and healthy.agent_version
    pending = device_of(connected, one_host(sim_readonly, "abm_pending"))
    assert (pending.availability_status, pending.enrollment_status) == ("in_stock", "awaiting_activation")
    assert AuditEvent.objects.for_org(connected).filter(event="sync_run.succeeded").count() == 1


def test_second_sync_is_all_unchanged_and_writes_nothing(connected, sim_readonly):
    sync(connected, sim_readonly)
    before = snapshot(connected)
    with CaptureQueriesContext(connection) as queries:
        run = sync(connected, sim_readonly)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 120)  # hosts; duplicate pairs are one device
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))
              and '"devices_device"' in q["sql"]]
    assert writes == []
    assert snapshot(connected) == before


def test_changed_hosts_are_updated(connected, sim):
    sync(connected, sim)
    host_id = one_host(sim, "healthy")
    sim.update_host(host_id, os_version="macOS 26.1")
    run = sync(connected, sim)
    assert (run.updated, run.created) == (1, 0)
    assert device_of(connected, host_id).os_version == "macOS 26.1"


def test_reenrollment_under_a_new_id_is_the_same_device(connected, sim):
    sync(connected, sim)
    old_id = one_host(sim, "healthy")
    device = device_of(connected, old_id)
    new_id = sim.reenroll(old_id)
    run = sync(connected, sim)
    assert run.created == 0 and run.reenrolled == 1
    device.refresh_from_db()
    assert device.fleet_host_id == new_id and device.fleet_missing_since is None


def test_duplicate_serials_follow_the_newest_host(connected, sim_readonly):
    sync(connected, sim_readonly)
    stale = one_host(sim_readonly, "duplicate_stale")
    current = stale + 1
    assert sim_readonly.situation(current) == "duplicate_current"
    serial = sim_readonly.host_json(stale)["hardware_serial"]
    device = Device.objects.for_org(connected).get(serial_number=serial.upper())
    assert device.fleet_host_id == current and device.enrollment_issues == []


def test_hosts_without_serial_are_kept_apart_and_found_again_by_id(connected, sim_readonly):
    sync(connected, sim_readonly)
    host_id = one_host(sim_readonly, "empty_serial")
    device = device_of(connected, host_id)
    assert device.serial_number == "" and device.name
    assert sync(connected, sim_readonly).created == 0


def test_a_host_deleted_in_fleet_is_marked_not_seen_and_keeps_its_owner(connected, sim, employee):
    sync(connected, sim)
    host_id = one_host(sim, "healthy")
    device = device_services.device_assign(device=device_of(connected, host_id), employee=employee, actor=SYSTEM)
    sim.delete_host(host_id)
    run = sync(connected, sim)
    device.refresh_from_db()
    assert run.not_seen == 1 and device.fleet_missing_since == NOW
    assert (device.availability_status, device.assignee) == ("in_use", employee)


@pytest.mark.parametrize("situation,issues", [
    ("no_agent", ["agent_missing"]), ("offline_weeks", ["offline"]), ("other_mdm", ["other_mdm"]),
    ("healthy", []), ("personal", []),
])
def test_enrollment_issues_are_detected(connected, sim_readonly, situation, issues):
    sync(connected, sim_readonly)
    device = device_of(connected, one_host(sim_readonly, situation))
    assert device.enrollment_issues == issues
    assert device.enrollment_status == ("partially_enrolled" if issues else "awaiting_user_assignment")


@pytest.mark.parametrize("fault", ["status", "garbage", "truncated"])
def test_a_failure_on_page_3_of_5_changes_nothing(connected, sim, fault):
    sync(connected, sim)
    sim.update_host(one_host(sim, "healthy"), os_version="changed")
    sim.delete_host(one_host(sim, "no_agent"))
    before = snapshot(connected)
    if fault == "status":
        sim.faults.status_on_page = {2: 500}
    elif fault == "garbage":
        sim.faults.invalid_json_on_page = {2}
    else:
        sim.faults.truncated_json_on_page = {2}
    run = sync(connected, sim)
    assert run.status == "failed" and run.error
    assert snapshot(connected) == before
    assert (run.created, run.updated, run.not_seen) == (0, 0, 0)


def test_hosts_removed_between_pages_never_mark_present_hosts_not_seen(connected, sim):
    """Deleting hosts already listed shifts the later pages: present hosts slip between two of them."""
    sync(connected, sim)
    doomed = sim.host_ids()[:10]
    sim.faults.mutate_after_page = {0: lambda s: [s.delete_host(h) for h in doomed]}
    run = sync(connected, sim)
    assert run.status == "succeeded", run.error
    missing = set(Device.objects.for_org(connected).filter(fleet_missing_since__isnull=False)
                  .values_list("fleet_host_id", flat=True))
    assert missing <= set(doomed)  # only hosts really gone, never one that slipped between pages
    sim.faults.mutate_after_page = {}
    sync(connected, sim)
    missing = set(Device.objects.for_org(connected).filter(fleet_missing_since__isnull=False)
                  .values_list("fleet_host_id", flat=True))
    assert missing == {h for h in doomed if sim.situation(h) != "duplicate_stale"}


def test_a_listing_shorter_than_fleets_count_changes_nothing(connected, sim, monkeypatch):
    sync(connected, sim)
    sim.delete_host(one_host(sim, "healthy"))
    before = snapshot(connected)
    monkeypatch.setattr(FleetClient, "count_hosts", lambda self: 500)
    run = sync(connected, sim)
    assert run.status == "failed" and "incomplete" in run.error
    assert snapshot(connected) == before


def test_a_manual_assignment_survives_syncs(connected, sim, employee):
    sync(connected, sim)
    host_id = one_host(sim, "healthy")
    device_services.device_assign(device=device_of(connected, host_id), employee=employee, actor=SYSTEM)
    sim.update_host(host_id, os_version="new")
    sync(connected, sim)
    device = device_of(connected, host_id)
    assert device.assignee == employee and device.enrollment_status == "enrolled"


def test_two_syncs_at_once_one_is_skipped_and_recorded(connected, sim_readonly):
    lease_acquire(organization=connected, job="fleet-sync")  # held by another, live worker
    run = sync(connected, sim_readonly)
    assert run.status == "skipped" and "Another sync" in run.error
    assert not Device.objects.for_org(connected).exists()


def test_an_unconnected_organization_fails_clearly(org):
    run = sync_organization(organization=org, trigger="command", actor=SYSTEM)
    assert run.status == "failed" and "not connected" in run.error


def test_fleet_sync_command_prints_the_counts(connected, sim_readonly):
    out = StringIO()
    call_command("fleet_sync", connected.slug, stdout=out)
    assert "created" in out.getvalue() and "120 hosts" in out.getvalue()


def test_fleet_sync_command_fails_loudly(org):
    with pytest.raises(CommandError, match="not connected"):
        call_command("fleet_sync", org.slug, stdout=StringIO())


def test_details_settle_an_inactive_agent_and_a_removed_profile(connected, sim_readonly):
    """Get host's MDM check-in and enrollment times sharpen what the list view alone would say."""
    run = sync(connected, sim_readonly)
    assert run.status == "succeeded"
    for situation, issues in [("agent_stale", ["agent_inactive"]), ("profile_removed", ["mdm_profile_missing"])]:
        for host_id in sim_readonly.ids_in_situation(situation):
            assert device_of(connected, host_id).enrollment_issues == issues, (situation, host_id)


def test_details_are_not_asked_again_for_an_unchanged_host(connected, sim_readonly):
    sync(connected, sim_readonly)
    sim_readonly.requests_log.clear()
    sync(connected, sim_readonly)
    gets = [path for method, path in sim_readonly.requests_log
            if method == "GET" and path.startswith("/api/v1/fleet/hosts/") and "count" not in path]
    assert gets == []


def test_a_quiet_agents_details_are_read_again_each_day_so_an_mdm_gone_quiet_turns_offline(connected, sim):
    """Whether an MDM device whose agent went quiet is alive only Get host says (its MDM's own check-in), and its
    listing no longer moves. Its details are read again once a day, each host at its own moment: a device whose MDM
    then went quiet too turns offline, where it used to keep its last answer for good."""
    host_id = one_host(sim, "agent_stale")
    threshold = timedelta(days=connected.offline_threshold_days)
    sim.update_host(host_id, seen_time=NOW - threshold - timedelta(days=2),
                    last_mdm_checked_in_at=NOW - timedelta(hours=1))

    def details_asked() -> int:
        return sum(1 for method, path in sim.requests_log
                   if method == "GET" and path.split("?")[0] == f"/api/v1/fleet/hosts/{host_id}")

    assert sync(connected, sim).status == "succeeded"
    assert device_of(connected, host_id).enrollment_issues == ["agent_inactive"]  # its MDM still checks in
    assert details_asked() == 1

    sim.update_host(host_id, last_mdm_checked_in_at=NOW - threshold - timedelta(hours=1))  # the MDM goes quiet too
    moments = (NOW + timedelta(seconds=second) for second in range(1, int(DETAILS_ROUND.total_seconds()) + 1))
    next_round = next(moment for moment in moments if details_round(host_id, moment) != details_round(host_id, NOW))
    assert NOW < next_round <= NOW + DETAILS_ROUND
    assert details_round(host_id, next_round) == details_round(host_id, next_round - timedelta(seconds=1)) + 1
    assert sync(connected, sim, now=next_round - timedelta(seconds=1)).status == "succeeded"
    assert details_asked() == 1  # the same round: its listing did not move, its details are not asked again
    assert device_of(connected, host_id).enrollment_issues == ["agent_inactive"]

    assert sync(connected, sim, now=next_round).status == "succeeded"
    assert details_asked() == 2  # the next round: asked again, and Get host now says the MDM went quiet too
    assert device_of(connected, host_id).enrollment_issues == ["offline"]
    assert sync(connected, sim, now=next_round + timedelta(hours=1)).status == "succeeded"
    assert details_asked() == 2 and device_of(connected, host_id).enrollment_issues == ["offline"]


def test_a_wrong_token_fails_the_run_with_fleets_words(connected, sim_readonly):
    client = FleetClient(sim_readonly.base_url, "wrong", retries=0)
    run = sync_organization(organization=connected, trigger="command", actor=SYSTEM, client=client)
    assert run.status == "failed" and "refused the API token" in run.error


def test_devices_found_by_the_sync_have_their_creation_in_the_timeline(connected, sim_readonly, cockpit_client):
    sync(connected, sim_readonly)
    device = device_of(connected, one_host(sim_readonly, "healthy"))
    event = AuditEvent.objects.for_org(connected).for_target(device).get()
    assert (event.event, event.source, event.actor_type) == ("device.created", "sync", "system")
    body = cockpit_client.get(f"/o/{connected.slug}/devices/{device.pk}/").content.decode()
    assert "added the device" in body


def test_devices_not_seen_in_fleet_can_be_listed(connected, sim, api, cockpit_client):
    sync(connected, sim)
    gone = one_host(sim, "healthy")
    sim.delete_host(gone)
    sync(connected, sim)
    body = api.get("/api/v1/devices/", {"not_seen_in_fleet": "true"}).json()
    assert [row["fleet_host_id"] for row in body["results"]] == [gone]
    total = Device.objects.for_org(connected).count()
    assert api.get("/api/v1/devices/", {"not_seen_in_fleet": "false"}).json()["count"] == total - 1
    page = cockpit_client.get(f"/o/{connected.slug}/").content.decode()
    assert "not seen in Fleet" in page


def test_hosts_past_the_details_budget_are_enriched_on_later_runs(connected, sim_readonly, monkeypatch):
    def detail_requests():
        return [p for m, p in sim_readonly.requests_log if m == "GET" and p.startswith("/api/v1/fleet/hosts/")
                and "count" not in p]

    monkeypatch.setattr(sync_listing, "MAX_DETAIL_FETCHES", 1)
    removed = sim_readonly.ids_in_situation("profile_removed")
    assert len(removed) >= 2
    for _ in range(60):  # one host's details a run; every waiting host gets its turn, then none is asked
        sim_readonly.requests_log.clear()
        assert sync(connected, sim_readonly).status == "succeeded"
        if not detail_requests():
            break
    assert not detail_requests()
    assert [device_of(connected, h).enrollment_issues for h in removed] == [["mdm_profile_missing"]] * len(removed)
