"""The typed (msgspec) decoding of Fleet's host list gives what ``FleetHost.from_json`` gives, or steps aside."""

import json
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from mdm_sync.fleet import FleetClient, FleetHost
from mdm_sync.fleet_wire import WireHost, decode_host_page, host_from_wire
from mdm_sync.simulator import FleetSimulator

FIXTURES = Path(__file__).parent / "fleet_fixtures"  # FLEET_API.md's documented examples
TOKEN = "sim-token"


def same(a: FleetHost, b: FleetHost) -> None:
    """Equal field by field (``raw_keys`` apart: only the tolerant parser knows the keys Fleet sent)."""
    for field in fields(FleetHost):
        if field.name != "raw_keys":
            assert getattr(a, field.name) == getattr(b, field.name), field.name


def via_wire(item: dict) -> FleetHost:
    return host_from_wire(msgspec.json.decode(json.dumps(item), type=WireHost))


def test_the_documented_list_hosts_example_decodes_the_same():
    body = (FIXTURES / "list_hosts.json").read_bytes()
    wires = decode_host_page(body)
    items = json.loads(body)["hosts"]
    assert wires is not None and len(wires) == len(items) > 0
    for wire, item in zip(wires, items, strict=True):
        same(host_from_wire(wire), FleetHost.from_json(item))


def test_the_documented_get_host_example_decodes_the_same():
    item = json.loads((FIXTURES / "host_details.json").read_text())["host"]
    host = via_wire(item)
    same(host, FleetHost.from_json(item))
    assert host.last_mdm_checked_in_at is not None and host.id == item["id"]


def test_every_simulated_situation_decodes_the_same():
    with FleetSimulator(hosts=300, seed=3, token=TOKEN) as sim:
        for host_id in sim.host_ids():
            item = sim.host_json(host_id)
            same(via_wire(item), FleetHost.from_json(item))


def test_simulated_list_pages_decode_the_same():
    """The list view the sync reads (device mapping, users, device status), page by page."""
    with FleetSimulator(hosts=600, seed=11, token=TOKEN) as sim:
        client = FleetClient(sim.base_url, TOKEN, backoff=0)
        params = {"per_page": 250, "order_key": "id", "order_direction": "asc", "include_device_status": "true",
                  "device_mapping": "true", "populate_users": "true"}
        for page in range(3):
            body = client._request("GET", "/api/v1/fleet/hosts", params=params | {"page": page}, raw=True)
            wires = decode_host_page(body)
            items = json.loads(body)["hosts"]
            assert wires is not None and len(wires) == len(items)
            for wire, item in zip(wires, items, strict=True):
                same(host_from_wire(wire), FleetHost.from_json(item))
        client.close()


@pytest.mark.parametrize("item", [
    {"id": 1, "team_id": 3, "team_name": "Laptops"},
    {"id": 1, "team_id": 3, "fleet_id": 4, "fleet_name": "Desks", "team_name": "Old"},
    {"id": 1, "fleet_id": None, "team_id": 3, "fleet_name": None, "team_name": "Old"},
    {"id": 9, "brand_new_field": {"x": 1}, "mdm": None, "device_mapping": None, "users": None},
    {"id": 2, "hostname": "  padded  ", "orbit_version": "", "fleet_desktop_version": "",
     "seen_time": "0001-01-01T00:00:00Z", "created_at": "2026-11-20T10:00:00.123456789+02:00",
     "updated_at": "", "detail_updated_at": "yesterday", "last_enrolled_at": "2026-11-20T10:00:00"},
    {"id": 4, "users": [None, "x", {"username": "ada", "uid": "501"}], "device_mapping": {"email": "a@x.test"},
     "end_users": [None, {"idp_groups": "admins"}]},
    {"id": 5, "users": "ada", "device_mapping": "a@x.test", "end_users": None},
    {"id": 3, "device_mapping": [{"email": " Ada@Example.COM ", "source": "custom_installer"}, {"email": ""},
                                 {"source": "idp"}],
     "users": [{"username": "", "uid": 0}, {"username": " ada ", "uid": 501, "shell": "/bin/zsh"}, {"uid": 7}],
     "end_users": [{"idp_username": "ADA@x.test", "idp_groups": ["a", 1, None], "other_emails": [
         {"email": "B@x.test", "source": "google_chrome_profiles"}]}],
     "mdm": {"enrollment_status": "On (automatic)", "name": " Fleet ", "connected_to_fleet": True}},
])
def test_edge_shapes_decode_the_same(item):
    same(via_wire(item), FleetHost.from_json(item))


@pytest.mark.parametrize("body", [
    b"", b"<html>", b'{"hosts": [{"id": 1}', b'{"hosts": null}', b"[]", b'{"hosts": [{"id": "7"}]}',
    b'{"hosts": [{"id": true}]}', b'{"hosts": [{"id": 1, "hostname": 5}]}', b'{"hosts": [{"id": 1, "mdm": []}]}',
    b'{"hosts": [{"id": 1, "seen_time": 0}]}', b'{"hosts": [{"id": 1, "mdm": {"name": 3}}]}',
])
def test_anything_but_the_documented_shape_is_left_to_the_tolerant_parser(body):
    assert decode_host_page(body) is None


def test_the_client_falls_back_page_by_page_with_the_same_hosts():
    """A page the typed decoder refuses (a number where Fleet sends a string) is parsed the tolerant way.

    The simulator's clock is fixed: its hosts' times follow it, and the two listings may straddle a second."""
    with FleetSimulator(hosts=30, seed=5, token=TOKEN, now=datetime(2026, 11, 20, 10, tzinfo=UTC)) as sim:
        client = FleetClient(sim.base_url, TOKEN, backoff=0)
        typed = [host for page in client.iter_host_pages(per_page=10) for host in page]
        sim.update_host(12, hostname=12345)
        mixed = [host for page in client.iter_host_pages(per_page=10) for host in page]
    assert [h.id for h in typed] == [h.id for h in mixed] == list(range(1, 31))
    assert mixed[11].hostname == "" and typed[11].hostname != ""
    for a, b in zip(typed[:10] + typed[20:], mixed[:10] + mixed[20:], strict=True):
        same(a, b)
