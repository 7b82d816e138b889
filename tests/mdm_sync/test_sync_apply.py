"""Phase 2 in chunks (newest host first), its two writers (ORM; COPY on PostgreSQL) and what a run leaves behind."""

import pytest
from django.db import connection

from core.actors import Actor
from devices.models import Device
from mdm_sync import sync as sync_module
from mdm_sync import sync_apply
from mdm_sync.services import fleet_connection_save
from mdm_sync.sync_listing import HostIds, ReadAhead, Spill, host_facts
from mdm_sync.sync_writers import OrmWriter
from tests.conftest import SIM_TOKEN, sync_now

COUNTS = ("created", "updated", "unchanged", "not_seen", "reenrolled", "hosts_listed")
# Set by the sync itself or by the database: not part of what a device is.
VOLATILE = {"id", "organization_id", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def no_follow_ups(monkeypatch):
    """Only the sync's own writes are compared here, not what other apps' after-sync steps do."""
    from core.hooks import Steps

    monkeypatch.setattr(sync_module, "after_sync", Steps("after_sync", isolated=True))


def state(org):
    """Every device by its Fleet host id, as comparable values."""
    return {row["fleet_host_id"]: {k: v for k, v in row.items() if k not in VOLATILE}
            for row in Device.objects.for_org(org).values()}


def counts(run):
    return tuple(getattr(run, name) for name in COUNTS)


def one_host(sim, situation):
    return next(h for h in sim.host_ids() if sim.situation(h) == situation)


def test_chunk_boundaries_change_nothing(connected, other_org, sim, monkeypatch):
    """The same fleet synced in chunks of 1000 and of 3 hosts ends in the same devices and counts, through
    re-enrollments, a duplicate serial far from its twin, a deletion and an update."""
    fleet_connection_save(organization=other_org, url=sim.base_url, token=SIM_TOKEN, actor=Actor.system("t"),
                          test=False)

    def both():
        monkeypatch.setattr(sync_apply, "APPLY_CHUNK", 1000)
        big = sync_now(connected, sim)
        monkeypatch.setattr(sync_apply, "APPLY_CHUNK", 3)
        small = sync_now(other_org, sim)
        assert big.status == small.status == "succeeded", (big.error, small.error)
        assert counts(big) == counts(small)
        a, b = state(connected), state(other_org)
        assert a.keys() == b.keys()
        assert [(h, k, a[h][k], b[h][k]) for h in a for k in a[h] if a[h][k] != b[h][k]] == []
        return big

    first = both()
    assert first.created and first.unchanged  # duplicate pairs are one device: the older host is skipped
    healthy = sim.ids_in_situation("healthy")
    sim.reenroll(healthy[0])
    sim.reenroll(healthy[1])
    twin = sim.add_hosts(1)[0]  # a second host with an existing serial, listed far from the first one
    original = sim.host_json(healthy[2])
    sim.update_host(twin, hardware_serial=original["hardware_serial"], uuid=original["uuid"])
    sim.update_host(healthy[3], os_version="changed")
    sim.delete_host(healthy[4])
    second = both()
    assert second.reenrolled >= 3 and second.updated >= 4 and second.created == 0
    assert Device.objects.for_org(connected).get(fleet_host_id=twin).serial_number == \
        original["hardware_serial"].upper()
    assert both().updated == 0


def test_new_duplicates_in_different_chunks_make_one_device_with_the_newest_host(connected, sim, monkeypatch):
    monkeypatch.setattr(sync_apply, "APPLY_CHUNK", 2)
    twin = sim.add_hosts(1)[0]
    original = sim.host_json(one_host(sim, "healthy"))
    sim.update_host(twin, hardware_serial=original["hardware_serial"])
    run = sync_now(connected, sim)
    assert run.status == "succeeded", run.error
    devices = Device.objects.for_org(connected).filter(serial_number=original["hardware_serial"].upper())
    assert [device.fleet_host_id for device in devices] == [twin]
    assert run.reenrolled == 0 and run.updated == 0


def test_a_crash_while_writing_rolls_everything_back_and_leaves_no_staging(connected, sim, monkeypatch):
    sync_now(connected, sim)
    sim.update_host(one_host(sim, "healthy"), os_version="changed")
    sim.add_hosts(3)
    before = sorted(Device.objects.for_org(connected).values_list("pk", "os_version", "fleet_facts_hash"))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sync_apply, "_mark_presence", boom)
    run = sync_now(connected, sim)
    assert run.status == "failed" and "nothing was changed" in run.error
    assert sorted(Device.objects.for_org(connected).values_list("pk", "os_version", "fleet_facts_hash")) == before
    assert_no_staging(run)


def test_a_successful_run_leaves_no_staging(connected, sim):
    sync_now(connected, sim)
    sim.update_host(one_host(sim, "healthy"), os_version="changed")
    run = sync_now(connected, sim)
    assert run.updated == 1
    assert_no_staging(run)


def assert_no_staging(run):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'mdm_sync_stage_%%'")
            assert cursor.fetchone()[0] == 0


def test_the_spill_file_is_closed_whatever_happens(connected, sim, monkeypatch):
    spills = []
    original = Spill.__init__

    def tracking(self):
        original(self)
        spills.append(self)

    monkeypatch.setattr(Spill, "__init__", tracking)
    sync_now(connected, sim)
    sim.faults.status_on_page = {2: 500}
    assert sync_now(connected, sim).status == "failed"
    assert len(spills) == 2 and all(spill._file.closed for spill in spills)


def test_spill_gives_the_facts_back_newest_first(connected, sim):
    from mdm_sync.fleet import FleetHost
    from mdm_sync.health import HealthPolicy
    from tests.conftest import SIM_NOW

    spill = Spill()
    try:
        make = lambda i: host_facts(  # noqa: E731
            FleetHost(id=i, hostname=f"h{i}"), policy=HealthPolicy(), now=SIM_NOW, previously_enrolled=False)
        spill.add([make(1), make(3)])
        spill.add([])
        spill.add([make(7), make(5)])
        chunks = list(spill.newest_first(3))
        assert [[f.host_id for f in chunk] for chunk in chunks] == [[7, 5, 3, 1]]
        assert [[f.host_id for f in chunk] for chunk in spill.newest_first(1)] == [[7, 5], [3, 1]]
        assert spill.count == 4
    finally:
        spill.close()


def test_host_ids_are_a_compact_set():
    ids = HostIds()
    assert ids.add(5) and ids.add(9) and not ids.add(5)
    assert ids.add(7)  # out of order (a page shifted by a deletion): still found
    assert 7 in ids and 5 in ids and 9 in ids and 6 not in ids and len(ids) == 3
    assert not ids.add(9)


def test_both_writers_give_the_same_devices(connected, other_org, sim, monkeypatch):
    """On PostgreSQL the COPY writer is used; forcing the ORM writer there must give the same result."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer")
    fleet_connection_save(organization=other_org, url=sim.base_url, token=SIM_TOKEN, actor=Actor.system("t"),
                          test=False)
    sim.update_host(one_host(sim, "healthy"), os_version="x")
    sync_now(connected, sim)
    monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    sync_now(other_org, sim)
    assert state(connected) == state(other_org)


def test_updates_through_either_writer_give_the_same_devices(connected, other_org, sim, monkeypatch):
    """Matched devices are plain objects (``MatchedDevice``), not model instances: the COPY writer takes their values,
    the ORM writer builds instances from them; the devices come out the same either way, on either database."""
    fleet_connection_save(organization=other_org, url=sim.base_url, token=SIM_TOKEN, actor=Actor.system("t"),
                          test=False)
    sync_now(connected, sim)
    sync_now(other_org, sim)
    for situation in ("healthy", "agent_stale", "profile_removed"):
        sim.update_host(one_host(sim, situation), os_version="x")
    first = sync_now(connected, sim)
    monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    second = sync_now(other_org, sim)
    assert first.updated == second.updated >= 3 and counts(first) == counts(second)
    assert state(connected) == state(other_org)


def test_a_matched_device_holds_its_rows_values(connected, sim):
    sync_now(connected, sim)
    rows = Device.objects.for_org(connected).filter(fleet_host_id__isnull=False).order_by("pk")[:5]
    devices, plain = list(rows), sync_apply._matched(rows)
    assert len(plain) == len(devices) == 5
    for matched, device in zip(plain, devices, strict=True):
        assert isinstance(matched, sync_apply.MatchedDevice) and str(matched) == str(device)
        assert all(getattr(matched, name) == getattr(device, name) for name in sync_apply._MATCH_FIELDS)


def test_read_ahead_keeps_order_raises_in_turn_and_stops_when_left():
    import threading


    assert list(ReadAhead(iter(range(10)))) == list(range(10))

    def failing():
        yield 1
        yield 2
        raise ValueError("page 3 is garbage")

    seen = []
    with pytest.raises(ValueError, match="page 3"):
        for item in ReadAhead(failing()):
            seen.append(item)
    assert seen == [1, 2]

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    pages = ReadAhead(endless(), depth=2)
    assert next(pages) == 0
    pages.close()  # the consumer leaves early (a failure in the sync): the thread stops, reading no further
    assert not any(thread.name == "fleet-pages" and thread.is_alive() for thread in threading.enumerate())
    assert len(produced) <= 5
