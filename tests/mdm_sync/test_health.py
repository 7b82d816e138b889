"""Enrollment health rules (DESIGN §3), on hand-made hosts and on every situation the simulator makes."""

from datetime import UTC, datetime, timedelta

import pytest

from mdm_sync.fleet import FleetHost
from mdm_sync.health import HealthPolicy, assess, mdm_state
from mdm_sync.simulator import FleetSimulator

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = HealthPolicy(offline_after=timedelta(days=7), agent_inactive_after=timedelta(hours=24))


def host(**fields) -> FleetHost:
    base = {"id": 1, "platform": "darwin", "orbit_version": "1.40.0", "osquery_version": "5.15.0",
            "seen_time": NOW - timedelta(minutes=5), "mdm_enrollment_status": "On (automatic)", "mdm_name": "Fleet",
            "mdm_connected_to_fleet": True}
    return FleetHost(**(base | fields))


def issues(h, **kwargs):
    return assess(h, policy=kwargs.pop("policy", POLICY), now=NOW, **kwargs).issues


def test_a_healthy_mac_is_activated_without_issues():
    result = assess(host(), policy=POLICY, now=NOW)
    assert result.activated and result.issues == ()


@pytest.mark.parametrize("status,state", [("On (manual)", "on"), ("On (personal)", "on"),
                                          ("On (manual - personal)", "on"), ("Pending", "pending"), ("Off", "off"),
                                          (None, "none"), ("", "none")])
def test_mdm_states(status, state):
    assert mdm_state(host(mdm_enrollment_status=status)) == state


def test_agent_missing_on_a_desktop_with_mdm_on():
    assert issues(host(orbit_version=None)) == ("agent_missing",)
    assert issues(host(platform="windows", orbit_version=None)) == ("agent_missing",)
    assert issues(host(platform="ios", orbit_version=None, osquery_version="")) == ()  # MDM-only by design


def test_agent_inactive_needs_the_device_otherwise_alive():
    stale = NOW - timedelta(days=3)
    assert issues(host(seen_time=stale)) == ("agent_inactive",)
    # Past the offline threshold with the MDM still checking in: alive, the agent is the problem.
    quiet = host(seen_time=NOW - timedelta(days=10), last_mdm_checked_in_at=NOW - timedelta(hours=2))
    assert issues(quiet) == ("agent_inactive",)


def test_offline_when_nothing_is_heard_for_the_threshold():
    assert issues(host(seen_time=NOW - timedelta(days=8))) == ("offline",)
    assert issues(host(seen_time=NOW - timedelta(days=6, hours=23))) == ("agent_inactive",)
    longer = HealthPolicy(offline_after=timedelta(days=30), agent_inactive_after=timedelta(hours=24))
    assert issues(host(seen_time=NOW - timedelta(days=8)), policy=longer) == ("agent_inactive",)


def test_mdm_profile_missing_is_macos_only_and_needs_a_previous_enrollment():
    removed = host(mdm_enrollment_status="Off", mdm_name="")
    assert issues(removed, previously_enrolled=True) == ("mdm_profile_missing",)
    assert issues(removed) == ("enrollment_incomplete",)  # never finished enrolling
    fleet_says_enrolled_before = host(mdm_enrollment_status="Off", last_mdm_enrolled_at=NOW - timedelta(days=40))
    assert issues(fleet_says_enrolled_before) == ("mdm_profile_missing",)
    assert issues(host(platform="windows", mdm_enrollment_status="Off")) == ("enrollment_incomplete",)
    assert issues(host(platform="ubuntu", mdm_enrollment_status=None)) == ()


def test_another_mdm():
    intune = host(platform="windows", mdm_name="Intune", mdm_connected_to_fleet=False)
    result = assess(intune, policy=POLICY, now=NOW)
    assert result.issues == ("other_mdm",) and not result.activated


def test_expired_apple_push_certificate_touches_apple_devices_only():
    expired = HealthPolicy(apns_certificate_expired=True)
    assert issues(host(), policy=expired) == ("apns_certificate_expired",)
    assert issues(host(platform="windows"), policy=expired) == ()


def test_abm_pending_awaits_activation_without_issues():
    pending = host(mdm_enrollment_status="Pending", orbit_version=None, osquery_version="",
                   seen_time=NOW - timedelta(days=90))
    assert assess(pending, policy=POLICY, now=NOW) == assess(pending, policy=POLICY, now=NOW)
    result = assess(pending, policy=POLICY, now=NOW)
    assert not result.activated and result.issues == ()


def test_linux_is_activated_by_its_agent():
    assert assess(host(platform="ubuntu", mdm_enrollment_status=None), policy=POLICY, now=NOW).activated
    assert not assess(host(platform="ubuntu", mdm_enrollment_status=None, seen_time=None), policy=POLICY,
                      now=NOW).activated


def test_issues_come_in_a_stable_order():
    both = host(orbit_version=None, seen_time=NOW - timedelta(days=20), mdm_name="Jamf", mdm_connected_to_fleet=False)
    assert issues(both) == ("agent_missing", "offline", "other_mdm")


EXPECTED = {
    "healthy": (), "no_agent": ("agent_missing",), "agent_stale": ("agent_inactive",),
    "profile_removed": ("mdm_profile_missing",), "offline_weeks": ("offline",), "abm_pending": (),
    "other_mdm": ("other_mdm",), "duplicate_stale": ("offline",), "duplicate_current": (), "personal": (),
    "empty_serial": (), "unknown_platform": (), "email_mismatch": (), "several_users": (), "generic_installer": (),
    "installer_only": (), "sso_legacy_source": (),
}


def test_every_simulated_situation_gets_its_issue():
    """The Get-host view (with the MDM's own check-in time) of every situation the simulator generates."""
    with FleetSimulator(hosts=300, seed=11, token="t") as sim:
        now = sim.now()
        seen = set()
        for host_id in sim.host_ids():
            situation = sim.situation(host_id)
            result = assess(FleetHost.from_json(sim.host_json(host_id)), policy=POLICY, now=now)
            assert result.issues == EXPECTED[situation], (situation, sim.host_json(host_id))
            not_activated = {"abm_pending", "other_mdm", "profile_removed"}  # MDM pending, elsewhere, or off
            assert result.activated == (situation not in not_activated), situation
            seen.add(situation)
    assert seen == set(EXPECTED)
