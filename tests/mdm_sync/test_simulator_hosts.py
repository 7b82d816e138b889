"""The generated fleet (``mdm_sync.simulator.identity`` and ``.records``): exact situation shares, what each
situation looks like, duplicates, people and platforms, and the same fleet in every process."""

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mdm_sync.simulator import (
    NEVER,
    SITUATION_SHARES,
    FleetSimulator,
    employee_count_for,
    employee_email,
    employee_name,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def sim():
    """Not served: generation is read through the simulator's methods."""
    return FleetSimulator(hosts=200, seed=7, now=NOW)


def test_situation_shares_are_exact_per_100_ids(sim):
    assert sum(SITUATION_SHARES.values()) == 100
    counts = Counter(sim.situation(i) for i in sim.host_ids())
    assert counts == {name: 2 * share for name, share in SITUATION_SHARES.items()}


def age(host, key="seen_time"):
    return NOW - datetime.fromisoformat(host[key])


def on(host):
    return (host["mdm"]["enrollment_status"] or "").startswith("On (")


CHECKS = {
    "healthy": lambda h: age(h) <= timedelta(minutes=45) and (
        on(h) and h["mdm"]["name"] == "Fleet" or h["mdm"]["enrollment_status"] is None and h["platform"] in
        ("ubuntu", "rhel", "chrome")) and (h["orbit_version"] or h["platform"] in ("ios", "ipados", "android",
                                                                                   "chrome")),
    "no_agent": lambda h: h["platform"] in ("darwin", "windows") and on(h) and h["orbit_version"] is None
    and h["osquery_version"] == "",
    "agent_stale": lambda h: h["orbit_version"] and age(h) > timedelta(days=2)
    and age(h, "last_mdm_checked_in_at") < timedelta(hours=6),
    "profile_removed": lambda h: h["platform"] == "darwin" and h["mdm"]["enrollment_status"] == "Off"
    and h["orbit_version"] and age(h) < timedelta(hours=1) and h["last_mdm_enrolled_at"],
    "offline_weeks": lambda h: timedelta(weeks=3) <= age(h) <= timedelta(weeks=6),
    "abm_pending": lambda h: h["mdm"]["enrollment_status"] == "Pending" and h["osquery_version"] == ""
    and h["status"] == "offline" and h["uuid"] == "" and h["last_enrolled_at"] == NEVER
    and h["seen_time"] == h["created_at"] and h["hardware_serial"],
    "other_mdm": lambda h: h["mdm"]["name"] in ("Intune", "Jamf", "Kandji") and h["mdm"]["connected_to_fleet"] is False
    and on(h),
    "personal": lambda h: h["mdm"]["enrollment_status"] == "On (personal)" and h["platform"] in ("ios", "ipados",
                                                                                                  "android")
    and h["hardware_serial"] == h["uuid"] != "",
    "empty_serial": lambda h: h["hardware_serial"] == "" and age(h) < timedelta(hours=1),
    "unknown_platform": lambda h: h["platform"] == "freebsd",
}


@pytest.mark.parametrize("situation", sorted(CHECKS))
def test_each_situation_looks_like_it_says(sim, situation):
    host_ids = sim.ids_in_situation(situation)
    assert host_ids
    for host_id in host_ids:
        host = sim.host_json(host_id)
        assert CHECKS[situation](host), (situation, host)
        assert host["created_at"] <= host["seen_time"] <= "2026-11-20T10:00:00Z"


def test_duplicate_pairs_share_serial_and_uuid_and_the_older_is_stale(sim):
    for current in sim.ids_in_situation("duplicate_current"):
        old, new = sim.host_json(current - 1), sim.host_json(current)
        assert sim.situation(current - 1) == "duplicate_stale"
        assert (old["hardware_serial"], old["uuid"]) == (new["hardware_serial"], new["uuid"]) != ("", "")
        assert age(old) > timedelta(days=13) and age(new) < timedelta(hours=1)
        assert old["created_at"] < new["created_at"]


def mapping(sim, situation):
    host_id = sim.ids_in_situation(situation)[0]
    return sim.host_json(host_id), sorted((m["source"], m["email"]) for m in sim.device_mapping(host_id))


def test_email_situations(sim):
    emails = {email for _, _, email in sim.employees()}
    host, pairs = mapping(sim, "email_mismatch")
    assert [s for s, _ in pairs] == ["custom", "mdm_idp_accounts"] and pairs[0][1] != pairs[1][1]
    assert {e for _, e in pairs} <= emails
    host, pairs = mapping(sim, "several_users")
    assert [s for s, _ in pairs] == ["custom", "mdm_idp_accounts", "mdm_idp_accounts"]
    assert len(host["end_users"]) == 2
    assert mapping(sim, "generic_installer")[1] == []
    assert [s for s, _ in mapping(sim, "installer_only")[1]] == ["custom"]
    host, pairs = mapping(sim, "sso_legacy_source")
    assert [s for s, _ in pairs] == ["custom_installer", "identity_provider"] and pairs[0][1] == pairs[1][1]
    assert host["end_users"][0]["other_emails"] == [{"email": pairs[0][1], "source": "custom"}]


def test_every_platform_appears_with_realistic_weights():
    simulator = FleetSimulator(hosts=1000, seed=3, now=NOW)
    platforms = Counter(simulator.host_json(i)["platform"] for i in range(1, 1001))
    assert set(platforms) == {"darwin", "windows", "ubuntu", "rhel", "ios", "ipados", "android", "chrome", "freebsd"}
    assert platforms["darwin"] > platforms["windows"] > platforms["ios"] > platforms["chrome"]


def test_employees_are_deterministic_and_unique():
    assert employee_name(1) == "Anna Chao" and employee_email(1) == "anna.chao1@demo.test"
    assert FleetSimulator.employee_email(2, "acme.test") == employee_email(2, "acme.test")
    emails = [employee_email(k) for k in range(1, 5001)]
    assert len(set(emails)) == 5000 and all(e.isascii() and e == e.lower() for e in emails)
    assert employee_count_for(200) == 160 and employee_count_for(0) == 1


def test_the_fleet_is_the_same_in_another_process():
    """No str hash() or other per-process randomness sneaks into generation (PYTHONHASHSEED differs)."""
    code = ("import json, sys; from datetime import datetime, UTC; from mdm_sync.simulator import FleetSimulator; "
            "s = FleetSimulator(hosts=300, seed=7, now=datetime(2026, 11, 20, 10, tzinfo=UTC)); "
            "print(json.dumps([s.host_json(i) for i in (1, 150, 299)] + [s.device_mapping(42)], sort_keys=True))")
    root = Path(__file__).resolve().parents[2]
    outputs = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout for hash_seed in ("1", "2")}
    here = FleetSimulator(hosts=300, seed=7, now=NOW)
    assert outputs == {json.dumps([here.host_json(i) for i in (1, 150, 299)] + [here.device_mapping(42)],
                                  sort_keys=True) + "\n"}
