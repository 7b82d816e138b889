"""The facts of a listed host built straight from its typed decoding (``ListedHost``) are those of its FleetHost."""

import json
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from devices.models import Device
from mdm_sync import sync as sync_module
from mdm_sync.fleet import FleetClient, FleetHost
from mdm_sync.fleet_wire import ListedHost, WireHost, decode_host, listed_host
from mdm_sync.health import HealthPolicy
from mdm_sync.simulator import FleetSimulator
from mdm_sync.sync_facts import host_facts, needs_details
from mdm_sync.sync_listing import Spill
from tests.conftest import SIM_NOW, sync_now

FIXTURES = Path(__file__).parent / "fleet_fixtures"
TOKEN = "sim-token"
POLICIES = (HealthPolicy(), HealthPolicy(offline_after=timedelta(days=2), agent_inactive_after=timedelta(hours=3),
                                         apns_certificate_expired=True))


def wire(item: dict) -> WireHost:
    return msgspec.json.decode(json.dumps(item), type=WireHost)


def same_facts_and_needs(item: dict, *, now=SIM_NOW) -> None:
    listed, full = ListedHost(wire(item)), FleetHost.from_json(item)
    for policy in POLICIES:
        for enrolled in (False, True):
            args = {"policy": policy, "now": now, "previously_enrolled": enrolled}
            assert host_facts(listed, **args) == host_facts(full, **args), (item.get("id"), policy, enrolled)
            assert host_facts(listed, details=full, **args) == host_facts(full, details=full, **args)
            assert needs_details(listed, **args) == needs_details(full, **args)


def test_every_simulated_situation_has_the_same_facts():
    with FleetSimulator(hosts=300, seed=3, token=TOKEN) as sim:
        for host_id in sim.host_ids():
            same_facts_and_needs(sim.host_json(host_id))


def test_the_documented_examples_have_the_same_facts():
    for item in json.loads((FIXTURES / "list_hosts.json").read_text())["hosts"]:
        same_facts_and_needs(item)
    same_facts_and_needs(json.loads((FIXTURES / "host_details.json").read_text())["host"])


@pytest.mark.parametrize("item", [
    {"id": 9, "mdm": None, "device_mapping": None, "users": None},
    {"id": 4, "users": [None, "x", {"username": "ada", "uid": "501"}], "device_mapping": {"email": "a@x.test"}},
    {"id": 5, "users": "ada", "device_mapping": "a@x.test"},
    {"id": 6, "users": [{"username": None, "uid": 501}, {"username": "bob", "uid": True}, {"username": "eve",
                                                                                          "uid": 501.0}]},
    {"id": 3, "platform": "darwin", "device_mapping": [{"email": " Ada@Example.COM ", "source": " custom_installer "},
                                                       {"email": ""}, {"source": "idp"}, {"email": None}],
     "users": [{"username": "", "uid": 0}, {"username": " ada ", "uid": 501, "shell": "/bin/zsh"}, {"uid": 7},
               {"username": "_www", "uid": 70}, {"username": "svc", "uid": 600, "shell": " /usr/bin/false "},
               {"username": "Zoë", "uid": 502, "type": " special "}],
     "mdm": {"enrollment_status": "On (automatic)", "name": " Fleet ", "connected_to_fleet": True},
     "seen_time": "2026-11-21T10:00:00Z", "orbit_version": "1.2", "last_mdm_enrolled_at": "0001-01-01T00:00:00Z"},
    {"id": 7, "platform": "ubuntu", "platform_like": "debian", "display_name": "  ", "computer_name": " cn ",
     "hostname": "h", "seen_time": "2026-11-21T10:00:00.123456+02:00", "osquery_version": "5.1",
     "last_mdm_checked_in_at": "yesterday", "hardware_serial": " c02x ", "os_version": "x" * 150},
])
def test_edge_shapes_have_the_same_facts(item):
    same_facts_and_needs(item)


def test_get_host_decodes_typed_or_tolerantly_to_the_same_host(sim):
    """Get host goes through the typed decoder; an odd shape through json.loads, with the same host."""
    client = FleetClient(sim.base_url, TOKEN, backoff=0)
    host_id = next(h for h in sim.host_ids() if sim.host_json(h).get("end_users"))
    body = client._request("GET", f"/api/v1/fleet/hosts/{host_id}", raw=True)
    assert decode_host(body) is not None
    typed = client.get_host(host_id)
    sim.update_host(host_id, hostname=12345)  # a number where Fleet sends a string: not the documented shape
    assert decode_host(client._request("GET", f"/api/v1/fleet/hosts/{host_id}", raw=True)) is None
    tolerant = client.get_host(host_id)
    client.close()
    assert typed.end_users == tolerant.end_users and typed.id == tolerant.id == host_id
    assert tolerant.hostname == "" and typed.hostname


def test_a_tolerantly_parsed_host_is_read_as_it_is():
    host = FleetHost(id=3, hostname="h")
    assert listed_host(host) is host
    assert isinstance(listed_host(wire({"id": 3})), ListedHost)


def test_the_spill_keeps_the_facts_as_they_were(tmp_path):
    facts = [host_facts(ListedHost(wire({"id": i, "hostname": f"h{i}", "users": [{"username": "ada", "uid": 1001}],
                                          "seen_time": "2026-11-21T10:00:00Z"})),
                        policy=HealthPolicy(), now=SIM_NOW, previously_enrolled=False) for i in (4, 2, 9)]
    spill = Spill()
    try:
        spill.add(facts)
        assert [f for chunk in spill.newest_first(10) for f in chunk] == sorted(facts, key=lambda f: -f.host_id)
        assert next(spill.newest_first(10))[0].accounts == ("ada",)
    finally:
        spill.close()


@pytest.fixture
def no_follow_ups(monkeypatch):
    from core.hooks import Steps

    monkeypatch.setattr(sync_module, "after_sync", Steps("after_sync", isolated=True))


def test_new_devices_and_their_audit_entries_are_written_from_rows(connected, sim, no_follow_ups):
    """A new device gets its model's defaults for what the sync leaves alone, and one ``device.created`` entry."""
    from core.models import AuditEvent

    run = sync_now(connected, sim)
    devices = Device.objects.for_org(connected)
    assert run.created == devices.count() > 0
    device = devices.exclude(serial_number="").order_by("id").first()
    assert (device.ownership, device.notes, device.version, device.auto_unenroll_exempt) == ("corporate", "", 1,
                                                                                              False)
    assert device.created_at is not None and device.updated_at is not None and device.fleet_synced_at == SIM_NOW
    entries = AuditEvent.objects.filter(organization=connected, event="device.created")
    assert entries.count() == run.created
    entry = entries.get(target_id=str(device.pk))
    assert entry.target_label == str(device) and entry.source == "sync" and entry.before == {}
    assert entry.after == {"fleet_host_id": device.fleet_host_id, "serial_number": device.serial_number,
                           "platform": device.platform}
