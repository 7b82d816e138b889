"""The after-sync steps (mdm_sync.hooks): called once per successful run with the devices it touched."""

import pytest

from core.hooks import Steps
from devices.models import Device
from mdm_sync.hooks import after_sync
from mdm_sync.models import SyncRun
from tests.conftest import sync_now as sync


@pytest.fixture
def recorded(monkeypatch):
    steps = Steps("after_sync", isolated=True)
    monkeypatch.setattr("mdm_sync.sync.after_sync", steps)
    return steps


def test_steps_get_the_created_and_updated_devices_in_order(connected, sim_readonly, recorded):
    calls = []
    recorded.register(lambda **kw: calls.append(("second", sorted(kw["device_ids"]))) or {"n": 2}, order=20,
                      name="second")
    recorded.register(lambda **kw: calls.append(("first", sorted(kw["device_ids"]))), order=10, name="first")

    run = sync(connected, sim_readonly)

    assert run.status == SyncRun.Status.SUCCEEDED
    all_ids = sorted(Device.objects.for_org(connected).values_list("pk", flat=True))
    assert [name for name, _ in calls] == ["first", "second"]
    assert calls[0][1] == all_ids and calls[1][1] == all_ids
    run.refresh_from_db()
    assert run.follow_ups == {"first": {"ok": True}, "second": {"ok": True, "n": 2}}

    calls.clear()
    assert sync(connected, sim_readonly).status == SyncRun.Status.SUCCEEDED
    assert calls == [("first", []), ("second", [])]  # nothing changed in Fleet: nothing to look at


def test_a_failing_step_is_recorded_and_neither_undoes_the_sync_nor_stops_the_next(connected, sim_readonly, recorded):
    def broken(**kwargs):
        raise RuntimeError("boom")

    later = []
    recorded.register(broken, order=1, name="broken")
    recorded.register(lambda **kw: later.append(len(kw["device_ids"])), order=2, name="later")

    run = sync(connected, sim_readonly)

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.follow_ups["broken"] == {"ok": False, "error": "RuntimeError: boom"}
    assert later and later[0] == Device.objects.for_org(connected).count() > 0


def test_a_failed_sync_runs_no_step(connected, sim, recorded):
    called = []
    recorded.register(lambda **kw: called.append(1), name="step")
    sim.faults.invalid_json_on_page.add(2)
    run = sync(connected, sim)
    assert run.status == SyncRun.Status.FAILED
    assert called == []


def test_the_project_registry_starts_empty_of_duplicates():
    assert len(after_sync.names) == len(set(after_sync.names))
