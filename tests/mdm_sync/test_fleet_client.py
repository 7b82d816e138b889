"""The Fleet client against the simulator, over real HTTP on loopback."""

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from urllib3.response import HTTPResponse

from mdm_sync.fleet import (
    FleetAuthError,
    FleetBadResponse,
    FleetClient,
    FleetError,
    FleetHost,
    FleetNotFound,
    FleetUnavailable,
    _CappedRetry,
    parse_time,
    product_platform,
)
from mdm_sync.simulator import FleetSimulator

TOKEN = "sim-token"


@pytest.fixture
def simulator():
    with FleetSimulator(hosts=1001, seed=7, token=TOKEN) as sim:
        yield sim


def client_for(sim, **kwargs) -> FleetClient:
    kwargs.setdefault("backoff", 0)
    return FleetClient(sim.base_url, TOKEN, **kwargs)


def list_requests(sim, page=None):
    return [path for method, path in sim.requests_log
            if method == "GET" and path.startswith("/api/v1/fleet/hosts?") and (page is None or f"page={page}&" in
                                                                                 path + "&")]


# --- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize("hosts,per_page,sizes", [
    (0, 100, [0]),
    (1, 100, [1]),
    (300, 100, [100, 100, 100, 0]),  # an exact multiple ends on an empty page
    (301, 100, [100, 100, 100, 1]),
])
def test_pages_end_on_the_first_short_page(hosts, per_page, sizes):
    with FleetSimulator(hosts=hosts, seed=1, token=TOKEN) as sim:
        client = client_for(sim)
        pages = list(client.iter_host_pages(per_page=per_page))
        assert [len(page) for page in pages] == sizes
        ids = [host.id for page in pages for host in page]
        assert ids == sorted(set(ids)) and len(ids) == client.count_hosts() == hosts


def test_pages_ask_explicitly_in_id_order_with_device_mapping(simulator):
    list(client_for(simulator).iter_host_pages(per_page=500))
    requested = list_requests(simulator)
    assert len(requested) == 3
    for path in requested:
        for param in ("per_page=500", "order_key=id", "order_direction=asc", "device_mapping=true"):
            assert param in path


def test_hosts_carry_what_the_product_uses(simulator):
    hosts = [host for page in client_for(simulator).iter_host_pages() for host in page]
    assert {host.product_platform for host in hosts} >= {"macos", "windows", "linux", "ios", "android"}
    mapped = [host for host in hosts if host.device_mapping]
    assert mapped and all(m.email == m.email.lower() and m.source for h in mapped for m in h.device_mapping)
    assert any(m.is_installer for h in mapped for m in h.device_mapping)
    assert any(m.is_sso for h in mapped for m in h.device_mapping)
    assert any(host.seen_time for host in hosts) and any(host.orbit_version is None for host in hosts)


@contextmanager
def fixed_answer(body: bytes):
    """A loopback server answering every GET with ``body`` as JSON: a Fleet that misbehaves on purpose."""

    class Fixed(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fixed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_ignores_page_is_caught():
    body = json.dumps({"hosts": [{"id": i} for i in range(1, 11)]}).encode()
    with fixed_answer(body) as url:
        client = FleetClient(url, TOKEN, retries=0)
        with pytest.raises(FleetBadResponse, match="not paginating"):
            list(client.iter_host_pages(per_page=10))


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried_then_succeed(simulator, status):
    simulator.faults.status_on_page = {1: status}
    simulator.faults.fail_times = 2
    simulator.faults.retry_after_seconds = 0
    pages = list(client_for(simulator, retries=3).iter_host_pages(per_page=500))
    assert sum(len(page) for page in pages) == 1001
    assert len(list_requests(simulator, page=1)) == 3  # two failures, then the page


def test_gives_up_after_the_configured_retries(simulator):
    simulator.faults.status_on_page = {1: 500}
    with pytest.raises(FleetUnavailable, match="kept failing") as error:
        list(client_for(simulator, retries=2).iter_host_pages(per_page=500))
    assert error.value.status == 500
    assert len(list_requests(simulator, page=1)) == 3


def test_retry_after_is_honoured(simulator):
    simulator.faults.status_on_page = {0: 429}
    simulator.faults.fail_times = 1
    simulator.faults.retry_after_seconds = 1
    started = time.monotonic()
    list(client_for(simulator, retries=2).iter_host_pages(per_page=500))
    assert time.monotonic() - started >= 0.9


def test_an_absurd_retry_after_is_capped():
    response = HTTPResponse(status=429, headers={"Retry-After": "86400"})
    assert _CappedRetry().get_retry_after(response) == _CappedRetry.RETRY_AFTER_CAP


# --- errors the admin sees ------------------------------------------------------------------


def test_a_wrong_token_is_an_auth_error_with_fleets_message(simulator):
    with pytest.raises(FleetAuthError, match="Authentication required"):
        FleetClient(simulator.base_url, "wrong", retries=0).count_hosts()


def test_an_html_answer_is_a_bad_response(simulator):
    simulator.faults.html_on_all = True
    with pytest.raises(FleetBadResponse, match="HTML"):
        client_for(simulator).count_hosts()


@pytest.mark.parametrize("knob", ["truncated_json_on_page", "invalid_json_on_page"])
def test_broken_json_is_a_bad_response(simulator, knob):
    setattr(simulator.faults, knob, {2})
    with pytest.raises(FleetBadResponse, match="invalid JSON"):
        list(client_for(simulator).iter_host_pages(per_page=500))


def test_a_slow_fleet_times_out(simulator):
    simulator.faults.delay_seconds_on_page = {0: 2.0}
    with pytest.raises(FleetUnavailable, match="did not answer"):
        list(client_for(simulator, timeout=0.3, retries=0).iter_host_pages(per_page=500))


def test_nothing_listening_is_unavailable():
    with FleetSimulator(hosts=1, token=TOKEN) as sim:
        url = sim.base_url
    with pytest.raises(FleetUnavailable, match="refused"):
        FleetClient(url, TOKEN, retries=0).count_hosts()


def test_an_unknown_host_name_is_unavailable():
    with pytest.raises(FleetUnavailable, match="DNS"):
        FleetClient("http://fleet.nonexistent.invalid", TOKEN, retries=0, connect_timeout=2).count_hosts()


def test_tls_to_a_plain_http_server_is_a_tls_error(simulator):
    with pytest.raises(FleetUnavailable, match="TLS"):
        FleetClient(simulator.base_url.replace("http://", "https://"), TOKEN, retries=0).count_hosts()


@pytest.mark.parametrize("url", ["", "fleet.example.com", "ftp://fleet.example.com", "https://"])
def test_a_malformed_url_is_refused_before_any_request(url):
    with pytest.raises(FleetError, match="not a Fleet URL"):
        FleetClient(url, TOKEN)


# --- single-host calls ----------------------------------------------------------------------


def test_get_host_has_the_get_host_extras(simulator):
    client = client_for(simulator)
    host_id = next(h for h in simulator.host_ids() if simulator.host_json(h).get("end_users"))
    host = client.get_host(host_id)
    assert host.id == host_id and host.end_users
    assert host.last_mdm_checked_in_at is None or host.last_mdm_checked_in_at.tzinfo is not None


def test_delete_then_get_is_not_found(simulator):
    client = client_for(simulator)
    host_id = simulator.host_ids()[0]
    client.delete_host(host_id)
    with pytest.raises(FleetNotFound):
        client.get_host(host_id)
    assert client.count_hosts() == 1000


def test_wipe_and_lock_are_queued(simulator):
    client = client_for(simulator)
    host_id = next(h for h in simulator.host_ids() if simulator.host_json(h)["platform"] == "darwin")
    wiped = client.wipe(host_id)
    assert wiped.pending_action == "wipe"
    other = next(h for h in simulator.host_ids() if simulator.host_json(h)["platform"] == "darwin" and h != host_id)
    assert client.lock(other).pending_action == "lock"


def test_turn_off_mdm(simulator):
    client = client_for(simulator)
    host_id = next(h for h in simulator.host_ids() if simulator.host_json(h)["platform"] == "darwin"
                   and (simulator.host_json(h)["mdm"].get("enrollment_status") or "").startswith("On"))
    client.turn_off_mdm(host_id)
    assert client.get_host(host_id).mdm_enrollment_status == "Off"


# --- parsing -------------------------------------------------------------------------------


def test_fleet_id_falls_back_to_team_id():
    assert FleetHost.from_json({"id": 1, "team_id": 3, "team_name": "Laptops"}).fleet_id == 3
    assert FleetHost.from_json({"id": 1, "team_id": 3, "fleet_id": 4}).fleet_id == 4
    assert FleetHost.from_json({"id": 1, "fleet_id": None, "team_id": 3}).fleet_id is None


def test_unknown_fields_are_ignored_and_optional_ones_may_be_missing():
    host = FleetHost.from_json({"id": 9, "brand_new_field": {"x": 1}, "mdm": None, "device_mapping": None})
    assert host.id == 9 and host.hardware_serial == "" and host.device_mapping == () and host.mdm_name == ""


@pytest.mark.parametrize("data", ["host", None, {}, {"id": "7"}, {"id": True}])
def test_a_malformed_host_is_a_bad_response(data):
    with pytest.raises(FleetBadResponse):
        FleetHost.from_json(data)


@pytest.mark.parametrize("value,expected_year", [
    ("2026-11-20T10:00:00Z", 2026), ("2026-11-20T10:00:00.123456+02:00", 2026), ("0001-01-01T00:00:00Z", None),
    ("9999-01-01T00:00:00Z", None), ("yesterday", None), ("", None), (None, None), (12, None),
])
def test_absurd_or_malformed_dates_are_none(value, expected_year):
    parsed = parse_time(value)
    assert (parsed.year if parsed else None) == expected_year


@pytest.mark.parametrize("platform,like,expected", [
    ("darwin", "", "macos"), ("windows", "", "windows"), ("ubuntu", "debian", "linux"), ("rhel", "", "linux"),
    ("chrome", "", "chromeos"), ("ipados", "", "ipados"), ("freebsd", "", "other"), ("weird", "linux", "linux"),
])
def test_platforms_map_to_the_products(platform, like, expected):
    assert product_platform(platform, like) == expected


@pytest.mark.parametrize("retries", [0, 2])
def test_a_slow_fleet_times_out_with_or_without_retries(simulator, retries):
    simulator.faults.delay_seconds_on_page = {0: 1.0}
    with pytest.raises(FleetUnavailable, match="did not answer within 0.2 s"):
        list(client_for(simulator, timeout=0.2, retries=retries).iter_host_pages(per_page=500))


def test_a_body_that_is_not_utf8_is_a_bad_response():
    with fixed_answer(b'{"count": "\\xff\xff"}') as url, pytest.raises(FleetBadResponse, match="not UTF-8"):
        FleetClient(url, TOKEN, retries=0).count_hosts()
