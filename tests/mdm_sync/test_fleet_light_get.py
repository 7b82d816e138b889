"""Get host through the client's light GET path (``mdm_sync.fleet._LightGet``): the same answers, retries and errors
as the session's path, over the same kept-alive connections, against real loopback servers."""

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mdm_sync.fleet import FleetAuthError, FleetBadResponse, FleetClient, FleetNotFound, FleetUnavailable
from mdm_sync.simulator import FleetSimulator

TOKEN = "sim-token"
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)  # the simulator's clock, fixed: two answers may straddle a second
HOST = {"host": {"id": 7, "hostname": "mac-7", "platform": "darwin", "hardware_serial": "C02X",
                 "last_mdm_checked_in_at": "2026-11-20T10:00:00Z", "mdm": {"enrollment_status": "On (manual)"}}}


class Script:
    """What the loopback server answers, in turn (the last answer repeats), and what it saw."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple[str, str, int]] = []  # (request target, Authorization, connection number)
        self.connections = 0

    def next(self) -> tuple[int, str, bytes, float]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def answer(status=200, body=HOST, content_type="application/json", delay=0.0):
    return status, content_type, body if isinstance(body, bytes) else json.dumps(body).encode(), delay


@contextmanager
def scripted(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Fleet

        def setup(self):
            super().setup()
            script.connections += 1
            self.number = script.connections

        def do_GET(self):  # noqa: N802 - http.server's naming
            script.requests.append((self.path, self.headers.get("Authorization"), self.number))
            status, content_type, body, delay = script.next()
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_get_host_answers_as_the_session_does_over_one_kept_alive_connection():
    with FleetSimulator(hosts=30, seed=7, token=TOKEN, now=NOW) as sim:
        client = FleetClient(sim.base_url, TOKEN, backoff=0)
        assert client._light.usable
        for host_id in sim.host_ids()[:10]:
            path = f"/api/v1/fleet/hosts/{host_id}"
            light = client._request("GET", path, raw=True, light=True)
            assert light == client._request("GET", path, raw=True)  # the session's path: the same bytes
            assert client.get_host(host_id).id == host_id
    with scripted(script := Script(answer())) as url:
        client = FleetClient(f"{url}/fleet", TOKEN, backoff=0)  # a base URL with a path keeps it
        for _ in range(5):
            host = client.get_host(7)
            assert (host.id, host.hostname, host.last_mdm_checked_in_at.year) == (7, "mac-7", 2026)
    assert [target for target, _, _ in script.requests] == ["/fleet/api/v1/fleet/hosts/7"] * 5
    assert {auth for _, auth, _ in script.requests} == {f"Bearer {TOKEN}"}
    assert script.connections == 1  # kept alive


def test_transient_errors_are_retried_then_succeed():
    script = Script(answer(503, {"message": "busy"}), answer(500, {"message": "oops"}), answer())
    with scripted(script) as url:
        assert FleetClient(url, TOKEN, retries=3, backoff=0).get_host(7).id == 7
    assert len(script.requests) == 3


def test_gives_up_after_the_configured_retries():
    with scripted(script := Script(answer(500, {"message": "Internal error"}))) as url, \
            pytest.raises(FleetUnavailable, match="kept failing on GET /api/v1/fleet/hosts/7") as error:
        FleetClient(url, TOKEN, retries=2, backoff=0).get_host(7)
    assert error.value.status == 500 and len(script.requests) == 3


@pytest.mark.parametrize("status,error,message", [
    (404, FleetNotFound, "Host was not found"), (401, FleetAuthError, "Authentication required"),
])
def test_fleets_refusals_keep_their_error_and_message(status, error, message):
    body = {"message": message, "errors": [{"name": "base", "reason": message}]}
    with scripted(Script(answer(status, body))) as url, pytest.raises(error, match=message) as raised:
        FleetClient(url, TOKEN, retries=0).get_host(7)
    assert raised.value.status == status


def test_an_html_answer_is_a_bad_response():
    with scripted(Script(answer(body=b"<html>login</html>", content_type="text/html"))) as url, \
            pytest.raises(FleetBadResponse, match="HTML"):
        FleetClient(url, TOKEN, retries=0).get_host(7)


def test_broken_json_is_a_bad_response():
    with scripted(Script(answer(body=b'{"host": {"id": 7'))) as url, \
            pytest.raises(FleetBadResponse, match="invalid JSON"):
        FleetClient(url, TOKEN, retries=0).get_host(7)


@pytest.mark.parametrize("retries", [0, 2])
def test_a_slow_fleet_times_out(retries):
    with scripted(Script(answer(delay=1.0))) as url, \
            pytest.raises(FleetUnavailable, match="did not answer within 0.2 s"):
        FleetClient(url, TOKEN, timeout=0.2, retries=retries, backoff=0).get_host(7)


def test_nothing_listening_is_unavailable():
    with scripted(Script(answer())) as url:
        pass
    with pytest.raises(FleetUnavailable, match="refused"):
        FleetClient(url, TOKEN, retries=0).get_host(7)


def test_tls_to_a_plain_http_server_is_a_tls_error():
    with scripted(Script(answer())) as url, pytest.raises(FleetUnavailable, match="TLS"):
        FleetClient(url.replace("http://", "https://"), TOKEN, retries=0).get_host(7)


def test_a_configured_proxy_is_used_through_the_session(monkeypatch):
    with scripted(script := Script(answer())) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = FleetClient("http://fleet.example.com", TOKEN, retries=0)
        assert not client._light.usable
        assert client.get_host(7).id == 7
    assert script.requests[0][0] == "http://fleet.example.com/api/v1/fleet/hosts/7"  # a proxy's absolute target


def test_pages_go_the_light_way_with_the_query_string_requests_builds():
    with FleetSimulator(hosts=1001, seed=7, token=TOKEN, now=NOW) as sim:
        client = FleetClient(sim.base_url, TOKEN, backoff=0)
        pages = list(client.iter_listed_pages(per_page=500))
        sent = [path for method, path in sim.requests_log if path.startswith("/api/v1/fleet/hosts?")]
        params = {"per_page": 500, "order_key": "id", "order_direction": "asc", "include_device_status": "true",
                  "device_mapping": "true", "populate_users": "true"}
        expected = [requests.Request("GET", f"{sim.base_url}/api/v1/fleet/hosts", params=params | {"page": page})
                    .prepare().path_url for page in range(3)]
        assert sent == expected
        assert [len(page) for page in pages] == [500, 500, 1]
        session_body = client._request("GET", "/api/v1/fleet/hosts", params=params | {"page": 1}, raw=True)
        assert client._request("GET", "/api/v1/fleet/hosts", params=params | {"page": 1}, raw=True,
                               light=True) == session_body
