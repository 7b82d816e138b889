"""Faults outside Fleet during a sync: the disk fills up while the listing is spilled to a temporary file. The run
fails with a clear error and changes nothing (the README's Reliability table points here)."""

import errno

from devices.models import Device
from mdm_sync.sync_listing import Spill
from tests.conftest import sync_now


def _snapshot(org):
    return sorted(Device.objects.for_org(org).values_list("pk", "fleet_host_id", "os_version", "fleet_missing_since"))


def test_a_full_disk_while_listing_fails_the_run_and_changes_nothing(connected, sim, monkeypatch):
    assert sync_now(connected, sim).status == "succeeded"
    for host_id in sim.host_ids()[:30]:
        sim.update_host(host_id, os_version="changed by the test")
    before = _snapshot(connected)
    calls = []
    original = Spill.add

    def disk_full(self, facts):
        calls.append(len(facts))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, facts)

    monkeypatch.setattr(Spill, "add", disk_full)
    run = sync_now(connected, sim)
    assert run.status == "failed" and "OSError" in run.error and "nothing was changed" in run.error
    assert run.finished_at is not None  # recorded as over, never left running
    assert _snapshot(connected) == before
