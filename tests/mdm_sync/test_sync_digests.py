"""The stored digests read once per run (``DigestMap``), and what the listing skips with them."""

import json
from datetime import timedelta

import msgspec
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device
from mdm_sync import sync as sync_module
from mdm_sync import sync_apply, sync_listing
from mdm_sync.fleet import FleetHost, WireHost, parse_time
from mdm_sync.health import HealthPolicy
from mdm_sync.sync_facts import details_round
from mdm_sync.sync_keys import NO_KEY, HostKeys, key_matches, same_facts, stored_digest
from mdm_sync.sync_listing import DigestMap, HostFacts, host_facts
from tests.conftest import SIM_NOW, sync_now
from tests.factories import DeviceFactory

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def no_follow_ups(monkeypatch):
    from core.hooks import Steps

    monkeypatch.setattr(sync_module, "after_sync", Steps("after_sync", isolated=True))


def test_the_map_gives_each_hosts_digest_and_enrollment():
    stored = DigestMap([(3, SHA, True, "C02X"), (7, SHA.upper(), False, ""), (9, "", True, "SN9"),
                        (12, "not-hex" * 5 + "x" * 5, False, "A"), (40, SHA[:-1] + "f", False, "SN40")])
    assert len(stored) == 5
    assert stored.get(3) == (SHA, True)
    assert stored.get(7) == (SHA.upper(), False)  # not lower-case hex: kept as text, compared as text
    assert stored.get(9) == ("", True)
    assert stored.get(12) == ("not-hex" * 5 + "x" * 5, False)
    assert stored.get(40) == (SHA[:-1] + "f", False)
    assert [stored.get(i) for i in (0, 1, 4, 8, 13, 41, 10**12)] == [None] * 7
    assert [stored.host_of_serial(s) for s in ("C02X", "SN9", "A", "SN40")] == [3, 9, 12, 40]
    assert [stored.host_of_serial(s) for s in ("", "c02x", "SN4", "B")] == [None] * 4
    # The listing's hot path: the position, the enrollment and the stored key's 10 bytes (None without a hex digest).
    assert [stored.find(i) for i in (3, 7, 40, 4)] == [0, 1, 4, -1]
    assert stored.enrolled(stored.find(3)) and not stored.enrolled(stored.find(7))
    assert stored.key(stored.find(3)) == bytes.fromhex(SHA[:20]) and stored.key(stored.find(7)) is None
    assert stored.key(stored.find(9)) is None and stored.key(stored.find(12)) is None


def test_the_map_is_compact():
    """~46 bytes a device (dicts of strings take ~300): memory stays flat as the fleet grows."""
    stored = DigestMap((i, f"{i:040x}", i % 2 == 0, f"SN{i}") for i in range(1, 10_001))
    arrays = (stored._ids, stored._serial_hashes, stored._serial_ids)
    size = sum(a.buffer_info()[1] * a.itemsize for a in arrays) + len(stored._digests) + len(stored._flags)
    assert size <= 46 * 10_000 and not stored._odd
    assert stored.get(4242) == (f"{4242:040x}", True) and stored.host_of_serial("SN4242") == 4242


@pytest.mark.django_db
def test_the_map_is_read_in_one_query_of_this_organizations_devices(org, other_org):
    DeviceFactory(organization=org, fleet_host_id=5, fleet_facts_hash=SHA, mdm_enrolled_at=None, serial_number="S5")
    DeviceFactory(organization=org, fleet_host_id=None, fleet_facts_hash=SHA)
    DeviceFactory(organization=other_org, fleet_host_id=6, fleet_facts_hash=SHA)
    with CaptureQueriesContext(connection) as queries:
        stored = DigestMap.load(Device.objects.for_org(org))
    assert len(queries.captured_queries) <= 2  # one SELECT (a server-side cursor may add its own statements)
    assert len(stored) == 1 and stored.get(5) == (SHA, False) and stored.get(6) is None
    assert stored.host_of_serial("S5") == 5


@pytest.mark.django_db
def test_the_loaded_map_equals_the_map_built_from_the_rows(org, other_org):
    """The query's rows, odd digests and flags included, give the same arrays as the rows handed over one by one."""
    now = SIM_NOW
    cases = [(9, SHA, now, "C02X", None), (3, "", None, "", None), (12, SHA.upper(), now, "SN12", now),
             (40, "not-hex" * 5 + "x" * 5, None, "Ünïcode-SN", None), (7, SHA[:-1] + "f", None, "SN7", now),
             (2**40, NO_KEY + SHA[:20], now, "BIG", None)]
    for host_id, digest, enrolled_at, serial, missing in cases:
        DeviceFactory(organization=org, fleet_host_id=host_id, fleet_facts_hash=digest, mdm_enrolled_at=enrolled_at,
                      serial_number=serial, fleet_missing_since=missing)
    DeviceFactory(organization=org, fleet_host_id=None, fleet_facts_hash=SHA, serial_number="NOHOST")
    DeviceFactory(organization=other_org, fleet_host_id=5, fleet_facts_hash=SHA, serial_number="THEIRS")
    loaded = DigestMap.load(Device.objects.for_org(org))
    built = DigestMap(sorted((h, d, e is not None, s, m is not None) for h, d, e, s, m in cases))
    for name in ("_ids", "_digests", "_flags", "_odd", "_serial_hashes", "_serial_ids"):
        assert getattr(loaded, name) == getattr(built, name), name
    assert [loaded.host_of_serial(s) for s in ("C02X", "Ünïcode-SN", "NOHOST", "THEIRS")] == [9, 40, None, None]
    empty = DigestMap.load(Device.objects.filter(pk=-1))
    assert len(empty) == 0 and empty.get(9) is None and empty.host_of_serial("C02X") is None


def test_an_unchanged_sync_reads_the_digests_once_not_once_a_page(connected, sim_readonly):
    sync_now(connected, sim_readonly)
    with CaptureQueriesContext(connection) as queries:
        run = sync_now(connected, sim_readonly, per_page=10)  # 12 pages, stale duplicates among them
    assert run.status == "succeeded" and (run.created, run.updated) == (0, 0)
    reads = [q["sql"] for q in queries.captured_queries if '"devices_device"' in q["sql"]
             and "SELECT" in q["sql"] and not q["sql"].startswith(("UPDATE", "INSERT"))]  # PG: DECLARE …
    assert len([sql for sql in reads if '"fleet_facts_hash"' in sql]) == 1
    by_serial = 'SELECT "devices_device"."serial_number", "devices_device"."fleet_host_id" FROM'
    assert not [sql for sql in reads if by_serial in sql]  # the listing's serial look-ups come from the map too


# --- skipping unchanged hosts before their facts are built (mdm_sync.sync_keys) -----------------------------


def keys_for(now, policy=None):
    return HostKeys(policy=policy or HealthPolicy(), now=now, seen_resolution=sync_listing.SEEN_RESOLUTION,
                    rules=sync_listing.RULES)


def wire(item: dict) -> WireHost:
    return msgspec.json.decode(json.dumps(item), type=WireHost)


def test_equal_keys_mean_equal_facts_as_time_passes(sim_readonly):
    """Every simulated host, every hour over ten days, enrolled or not: two moments with the same key have the same
    facts digest (the key follows each threshold the health rules compare)."""
    policy = HealthPolicy(offline_after=timedelta(days=3), agent_inactive_after=timedelta(hours=20))
    hosts = [sim_readonly.host_json(h) for h in sim_readonly.host_ids()]
    moments = [SIM_NOW + timedelta(hours=h) for h in range(0, 240, 1)]
    keyed = 0
    for item in hosts:
        host, raw = FleetHost.from_json(item), wire(item)
        for enrolled in (False, True):
            digests: dict[str, str] = {}
            for now in moments:
                key = keys_for(now, policy).key(raw, enrolled=enrolled)
                digest = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled).digest
                assert digests.setdefault(key, digest) == digest, (item["id"], now, enrolled)
            keyed += len(digests)
    assert keyed > 2 * len(hosts)  # keys do change with time (thresholds, hours), not only the facts


def test_any_listed_change_changes_the_key():
    item = {"id": 5, "hostname": "mbp", "platform": "darwin", "seen_time": "2026-11-21T11:30:00Z",
            "mdm": {"enrollment_status": "On (manual)", "name": "Fleet"}, "users": [{"username": "ada", "uid": 501}],
            "device_mapping": [{"email": "ada@x.test", "source": "custom_installer"}]}
    keys = keys_for(SIM_NOW)
    base = keys.key(wire(item), enrolled=False)
    assert keys.key(wire(item), enrolled=False) == base and len(base) == 20
    assert keys.key(wire(item), enrolled=True) != base
    assert keys_for(SIM_NOW, HealthPolicy(apns_certificate_expired=True)).key(wire(item), enrolled=False) != base
    for change in ({"hostname": "mbp2"}, {"os_version": "15.1"}, {"hardware_serial": "X"}, {"orbit_version": "1"},
                   {"seen_time": "2026-11-21T10:59:00Z"}, {"mdm": {"enrollment_status": "Off"}},
                   {"users": [{"username": "ada", "uid": 501}, {"username": "_svc", "uid": 80}]},
                   {"device_mapping": []}, {"last_mdm_enrolled_at": "2026-01-01T00:00:00Z"}):
        assert keys.key(wire(item | change), enrolled=False) != base, change
    assert keys.key(wire(item | {"seen_time": "2026-11-21T11:59:59Z"}), enrolled=False) == base  # same hour
    assert keys.key(wire(item | {"uptime": 5, "memory": 9}), enrolled=False) == base  # fields the facts ignore


def test_a_quiet_mdm_devices_key_and_digest_move_once_a_day_at_its_own_moment():
    """Its health hangs on Get host (sync_facts.DETAILS_ROUND); a live host's, a quiet host without MDM's, do not."""
    quiet = {"id": 5, "platform": "darwin", "seen_time": "2026-11-01T08:00:00Z", "orbit_version": "1.30",
             "mdm": {"enrollment_status": "On (automatic)", "name": "Fleet"}}
    linux = {"id": 5, "platform": "ubuntu", "seen_time": "2026-11-01T08:00:00Z", "orbit_version": "1.30"}
    live = quiet | {"seen_time": "2026-11-21T11:30:00Z"}
    policy = HealthPolicy()

    def key_and_digest(item, now):
        facts = host_facts(FleetHost.from_json(item), policy=policy, now=now, previously_enrolled=True)
        return keys_for(now, policy).key(wire(item), enrolled=True), facts.digest

    half_day = [SIM_NOW + timedelta(minutes=10 * i) for i in range(6 * 12)]  # host 5's round turns at 13:00:05
    for item, expected in ((quiet, 2), (linux, 1), (live, 1)):
        distinct = {key_and_digest(item, now) for now in half_day}
        assert len({key for key, _ in distinct}) == len({digest for _, digest in distinct}) == expected, item
    day = [SIM_NOW + timedelta(minutes=i) for i in range(24 * 60)]
    moments = {other: next(now for now in day if details_round(other, now) != details_round(other, SIM_NOW))
               for other in (5, 6, 7)}
    assert len(set(moments.values())) == 3  # each host's round turns at its own moment of the day


def test_stored_digests_carry_the_key_then_the_facts():
    facts = "f" * 40
    assert stored_digest("a" * 20, facts) == "a" * 20 + "f" * 20
    assert stored_digest(None, facts) == NO_KEY + "f" * 20
    assert same_facts("a" * 20 + "f" * 20, facts) and same_facts(facts, facts)  # stored before keys existed
    assert not same_facts("f" * 20 + "a" * 20, facts) and not same_facts(None, facts) and not same_facts("", facts)
    assert key_matches("a" * 40, "a" * 20) and not key_matches(NO_KEY + "a" * 20, NO_KEY)
    assert not key_matches(None, "a" * 20) and not key_matches("a" * 40, None)


def count_facts(monkeypatch) -> list:
    built = []
    original = sync_listing.host_facts

    def counted(host, **kwargs):
        built.append(host.id)
        return original(host, **kwargs)

    monkeypatch.setattr(sync_listing, "host_facts", counted)
    return built


def test_an_unchanged_sync_builds_no_facts(connected, sim_readonly, monkeypatch):
    """Newly activated devices are skipped on the very next run (their key counts the enrollment they now have), and
    the stale duplicates (hosts no device holds, whose device has a newer host) are set aside, then dropped once
    their newer hosts are listed: no facts are built for them either."""
    sync_now(connected, sim_readonly)
    stale = [h for h in sim_readonly.host_ids() if sim_readonly.situation(h) == "duplicate_stale"]
    assert stale and not Device.objects.for_org(connected).filter(fleet_host_id__in=stale).exists()
    built = count_facts(monkeypatch)
    run = sync_now(connected, sim_readonly)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 120)
    assert built == []


def test_a_key_change_without_a_facts_change_refreshes_only_the_digest(connected, sim, monkeypatch):
    sync_now(connected, sim)
    host_id = next(h for h in sim.host_ids() if sim.host_json(h)["platform"] == "darwin"
                   and sim.situation(h) == "healthy")
    device = Device.objects.for_org(connected).get(fleet_host_id=host_id)
    users = sim.host_json(host_id)["users"] + [{"uid": 250, "username": "_svc", "type": "", "shell": "/usr/bin/false"}]
    sim.update_host(host_id, users=users)  # a system account: not a fact the device keeps
    run = sync_now(connected, sim)
    assert (run.created, run.updated) == (0, 0)
    after = Device.objects.for_org(connected).get(pk=device.pk)
    assert after.updated_at == device.updated_at and after.fleet_facts_hash != device.fleet_facts_hash
    assert after.fleet_facts_hash[20:] == device.fleet_facts_hash[20:]
    built = count_facts(monkeypatch)
    assert sync_now(connected, sim).updated == 0 and host_id not in built  # skipped again, by its new key


def test_digests_stored_before_keys_existed_write_nothing_but_the_digest(connected, sim_readonly, monkeypatch):
    sync_now(connected, sim_readonly)
    devices = Device.objects.for_org(connected).exclude(fleet_host_id=None)
    policy = HealthPolicy()
    for device in devices:  # what the previous version stored: the whole facts digest
        item = sim_readonly.host_json(device.fleet_host_id)
        full = host_facts(FleetHost.from_json(item), policy=policy, now=SIM_NOW,
                          previously_enrolled=device.mdm_enrolled_at is not None).digest
        if device.fleet_facts_hash[20:] == full[:20]:
            Device.objects.filter(pk=device.pk).update(fleet_facts_hash=full)
    before = {d.pk: d.updated_at for d in devices}
    run = sync_now(connected, sim_readonly)
    assert (run.created, run.updated) == (0, 0)
    assert {d.pk: d.updated_at for d in devices} == before
    built = count_facts(monkeypatch)
    assert sync_now(connected, sim_readonly).updated == 0
    held = set(devices.values_list("fleet_host_id", flat=True))
    assert set(built).isdisjoint(held)


def test_a_host_waiting_for_its_details_is_never_skipped_by_its_key(connected, sim_readonly, monkeypatch):
    monkeypatch.setattr(sync_listing, "MAX_DETAIL_FETCHES", 0)
    sync_now(connected, sim_readonly)
    waiting = [d for d in Device.objects.for_org(connected) if d.fleet_facts_hash.startswith(NO_KEY)]
    assert waiting
    monkeypatch.setattr(sync_listing, "MAX_DETAIL_FETCHES", 1000)
    built = count_facts(monkeypatch)
    sync_now(connected, sim_readonly)
    assert {d.fleet_host_id for d in waiting} <= set(built)
    assert not Device.objects.for_org(connected).filter(fleet_facts_hash__startswith=NO_KEY).exists()


@pytest.mark.parametrize("value", [
    "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.123456789+02:00", "2026-11-20T10:00:00", "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z", "9999-01-01T00:00:00Z", "yesterday", "", None,
])
def test_the_keys_read_timestamps_as_parse_time_does(value):
    assert keys_for(SIM_NOW)._time(value) == parse_time(value)


@pytest.mark.django_db
def test_refreshed_keys_rewrite_only_the_digests_still_compared_and_only_this_organizations(org, other_org):
    from mdm_sync.sync_apply import _refresh_keys
    from mdm_sync.sync_listing import DigestRefresh

    organization, other = org, other_org
    mine = [DeviceFactory(organization=organization, fleet_host_id=host_id, fleet_facts_hash=f"{host_id:040d}")
            for host_id in (1, 2, 3)]
    theirs = DeviceFactory(organization=other, fleet_host_id=1, fleet_facts_hash=f"{1:040d}")
    refresh = DigestRefresh()
    refresh.add(1, f"{1:040d}", "a" * 40)
    refresh.add(2, "changed meanwhile", "b" * 40)  # another writer changed the row since it was read: left alone
    refresh.add(3, f"{3:040d}", "c" * 40)
    before = {device.pk: device.updated_at for device in mine}
    _refresh_keys(organization, refresh)
    after = {d.fleet_host_id: d for d in Device.objects.for_org(organization)}
    assert [after[h].fleet_facts_hash for h in (1, 2, 3)] == ["a" * 40, f"{2:040d}", "c" * 40]
    assert {d.pk: d.updated_at for d in after.values()} == before
    theirs.refresh_from_db()
    assert theirs.fleet_facts_hash == f"{1:040d}"


def test_the_pages_download_while_the_digest_map_loads_and_stop_if_it_fails(connected, sim, monkeypatch):
    import threading

    started = []

    def failing_load(devices):
        started.extend(thread.name for thread in threading.enumerate())
        raise RuntimeError("the database went away")

    monkeypatch.setattr(DigestMap, "load", staticmethod(failing_load))
    run = sync_now(connected, sim)
    assert run.status == "failed" and not Device.objects.for_org(connected).exists()
    assert "fleet-pages" in started  # the read-ahead thread was already running
    assert not any(thread.name == "fleet-pages" and thread.is_alive() for thread in threading.enumerate())


def test_absent_hosts_are_the_unseen_ones_not_yet_marked_missing():
    from mdm_sync.sync_listing import HostIds

    stored = DigestMap([(1, SHA, True, "A", False), (2, SHA, True, "B", True), (3, SHA, False, "C", False),
                        (5, SHA, False, "", False), (8, SHA, True, "D", True)])
    seen = HostIds()
    for host_id in (9, 3, 4):  # out of order, and hosts no device holds
        seen.add(host_id)
    assert stored.absent(seen) == [1, 5]  # 2 and 8 are already marked "not seen in Fleet"
    for host_id in (1, 5):
        seen.add(host_id)
    assert len(seen) == 5 and all(host_id in seen for host_id in (1, 3, 4, 5, 9))  # none lost out of order
    assert stored.absent(seen) == []


def test_a_stale_duplicate_whose_newer_host_is_listed_is_not_matched_again(connected, sim, monkeypatch):
    """It is dropped after the listing, without its facts or a device query; once its newer host is gone, its facts
    are built after the listing and it takes the device over as before."""
    sync_now(connected, sim)
    stale = next(h for h in sim.host_ids() if sim.situation(h) == "duplicate_stale")
    current = stale + 1
    matched = []
    real_devices_for = sync_apply._devices_for
    monkeypatch.setattr(sync_apply, "_devices_for", lambda organization, chunk: matched.extend(
        facts.host_id for facts in chunk) or real_devices_for(organization, chunk))
    built = count_facts(monkeypatch)
    run = sync_now(connected, sim)
    assert (run.created, run.updated, run.reenrolled) == (0, 0, 0) and run.unchanged == run.hosts_listed
    assert stale not in built and stale not in matched
    device = Device.objects.for_org(connected).get(fleet_host_id=current)
    sim.delete_host(current)
    run = sync_now(connected, sim)
    assert run.status == "succeeded" and run.reenrolled == 1 and stale in built and stale in matched
    device.refresh_from_db()
    assert device.fleet_host_id == stale and device.fleet_missing_since is None


def test_a_stale_duplicate_built_late_still_yields_to_a_newer_host_of_its_device(connected, sim, monkeypatch):
    """Its device's host re-enrolled under a newer id: the stale duplicate's facts are built after the listing (the
    device's host it knew is gone), but phase 2 still meets the newest host first, which takes the device."""
    sync_now(connected, sim)
    stale = next(h for h in sim.host_ids() if sim.situation(h) == "duplicate_stale")
    device = Device.objects.for_org(connected).get(fleet_host_id=stale + 1)
    newest = sim.reenroll(stale + 1)
    built = count_facts(monkeypatch)
    run = sync_now(connected, sim, per_page=7)  # the two hosts' facts in different chunks of phase 2 as well
    assert run.status == "succeeded" and run.reenrolled == 1 and run.created == 0
    assert stale in built and newest in built
    device.refresh_from_db()
    assert device.fleet_host_id == newest and device.fleet_missing_since is None


def test_the_spill_reads_late_facts_in_their_place_by_host_id():
    from mdm_sync.sync_listing import Spill

    def facts(host_id):
        return HostFacts(host_id, *[""] * 7, None, *[""] * 6, (), (), False, False, (), "d")

    spill = Spill()
    try:
        for page in ([1, 3, 5], [7, 9], [11, 12, 15]):
            spill.add([facts(h) for h in page])
        spill.add_late([facts(h) for h in (10, 0, 16, 4, 6)])
        chunks = list(spill.newest_first(4))
        assert [[f.host_id for f in chunk] for chunk in chunks] == [[16, 15, 12, 11], [10, 9, 7, 6, 5, 4, 3, 1], [0]]
        assert spill.count == 13
    finally:
        spill.close()
