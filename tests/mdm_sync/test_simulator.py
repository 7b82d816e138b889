"""The Fleet simulator, exercised over real HTTP as the sync will use it (no database needed)."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from mdm_sync.simulator import (
    DETAIL_ONLY_FIELDS,
    LIST_MDM_FIELDS,
    REENROLLED,
    SITUATION_SHARES,
    FleetSimulator,
    employee_email,
    employee_name,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOSTS = "/api/v1/fleet/hosts"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LIST_FIELDS = {
    "id", "hostname", "uuid", "platform", "osquery_version", "orbit_version", "fleet_desktop_version", "os_version",
    "hardware_serial", "hardware_model", "hardware_vendor", "computer_name", "display_name", "seen_time",
    "last_enrolled_at", "created_at", "updated_at", "detail_updated_at", "status", "team_id", "fleet_id", "team_name",
    "fleet_name", "mdm", "issues", "device_mapping", "scripts_enabled", "primary_ip", "memory", "uptime",
}
TIME_FIELDS = ("created_at", "updated_at", "detail_updated_at", "last_enrolled_at", "seen_time")


@pytest.fixture
def sim():
    with FleetSimulator(hosts=200, seed=7, now=NOW) as simulator:
        yield simulator
    assert not simulator.server_errors, simulator.server_errors[0]


class Api:
    """A requests session with the simulator's token; ``api.get(path, **params)`` etc."""

    def __init__(self, sim, token=None):
        self.sim, self.session = sim, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or sim.token}"

    def request(self, method, path, timeout=10, **kwargs):
        return self.session.request(method, self.sim.base_url + path, timeout=timeout, **kwargs)

    def get(self, path, timeout=10, **params):
        return self.request("GET", path, params=params, timeout=timeout)

    def hosts(self, **params):
        response = self.get(HOSTS, **params)
        assert response.status_code == 200, response.text
        return response.json()["hosts"]

    def all_ids(self, per_page=50, **params):
        """Page like the sync: explicit pages, stop on a short page."""
        ids, page = [], 0
        while True:
            batch = self.hosts(page=page, per_page=per_page, order_key="id", **params)
            ids += [h["id"] for h in batch]
            if len(batch) < per_page:
                return ids
            page += 1


@pytest.fixture
def api(sim):
    client = Api(sim)
    yield client
    client.session.close()


def assert_fleet_error(response, status, message=None):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"message", "errors", "uuid"}
    assert body["errors"][0]["name"] == "base" and body["errors"][0]["reason"]
    if message:
        assert body["message"] == message
    return body


def first_in(sim, situation, **where):
    for host_id in sim.ids_in_situation(situation):
        host = sim.host_json(host_id)
        if all(host.get(key) == value for key, value in where.items()):
            return host_id
    raise AssertionError(f"no {situation} host with {where}")


# ---- authentication and routing ---------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sim-token"},
                                     {"Authorization": "Basic c2ltLXRva2Vu"}])
@pytest.mark.parametrize("path", [HOSTS, f"{HOSTS}/count", f"{HOSTS}/1", f"{HOSTS}/1/device_mapping", "/nope"])
def test_a_missing_or_wrong_token_gets_fleets_401(sim, headers, path):
    response = requests.get(sim.base_url + path, headers=headers, timeout=5)
    body = assert_fleet_error(response, 401, "Authentication required")
    assert body["errors"] == [{"name": "base", "reason": "Authentication required"}]


def test_unknown_paths_are_fleet_404s_and_wrong_methods_405s(api):
    assert_fleet_error(api.get("/api/v1/fleet/teams"), 404, "Resource Not Found")
    assert_fleet_error(api.get(f"{HOSTS}/abc"), 404)
    assert_fleet_error(api.request("PUT", HOSTS), 405)


def test_latest_is_an_alias_of_v1(api):
    assert api.get("/api/latest/fleet/hosts", page=0).json() == api.get(HOSTS, page=0).json()
    assert api.get("/api/latest/fleet/hosts/count").json() == {"count": 200}


def test_a_body_over_fleets_1_mib_cap_is_refused(api):
    response = api.request("POST", f"{HOSTS}/1/wipe", data=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


# ---- pagination (Fleet's rules) ------------------------------------------------------------------------

def test_page_without_per_page_means_20_per_page(api):
    assert [h["id"] for h in api.hosts(page=0)] == list(range(1, 21))
    assert [h["id"] for h in api.hosts(page=1)] == list(range(21, 41))


def test_no_paging_parameters_returns_every_host_and_no_total(api):
    response = api.get(HOSTS)
    assert response.headers["Transfer-Encoding"] == "chunked"
    body = response.json()
    assert list(body) == ["hosts"]
    assert [h["id"] for h in body["hosts"]] == list(range(1, 201))


@pytest.mark.parametrize("params", [{"per_page": 0}, {"per_page": -5}, {"page": 0, "per_page": "abc"},
                                    {"page": -1}, {"order_direction": "asc"}, {"after": "10"},
                                    {"order_key": "id", "order_direction": "up"}, {"device_mapping": "maybe"},
                                    {"fleet_id": 1, "team_id": 1}, {"status": "sleeping"},
                                    {"mdm_enrollment_status": "sort-of"}, {"order_key": "no_such_column"}])
def test_invalid_list_parameters_are_fleet_400s(api, params):
    assert_fleet_error(api.get(HOSTS, **params), 400, "Bad request")


def test_paging_until_a_short_page_sees_every_host_once(api, sim):
    for host_id in (5, 50, 51, 199):
        sim.delete_host(host_id)
    assert api.all_ids(per_page=50) == sim.host_ids()
    assert len(sim.host_ids()) == 196
    assert api.hosts(page=4, per_page=50) == []


def test_order_by_id_descending_and_after_cursor(api, sim):
    assert [h["id"] for h in api.hosts(page=0, per_page=5, order_key="id", order_direction="desc")] == [
        200, 199, 198, 197, 196]
    sim.delete_host(52)
    assert [h["id"] for h in api.hosts(per_page=3, order_key="id", after="50")] == [51, 53, 54]
    desc = api.hosts(per_page=3, order_key="id", order_direction="desc", after="54")
    assert [h["id"] for h in desc] == [53, 51, 50]


def test_order_by_another_column(api):
    hosts = api.hosts(page=0, per_page=200, order_key="hostname")
    assert [h["hostname"] for h in hosts] == sorted(h["hostname"] for h in hosts)


# ---- shapes -------------------------------------------------------------------------------------------

def test_a_listed_host_has_the_list_view_fields_only(api):
    for host in api.hosts(page=0, per_page=100):
        assert set(host) >= LIST_FIELDS, LIST_FIELDS - set(host)
        assert not set(DETAIL_ONLY_FIELDS) & set(host)
        assert tuple(host["mdm"]) == LIST_MDM_FIELDS
        assert host["device_mapping"] is None
        assert (host["team_id"], host["team_name"]) == (host["fleet_id"], host["fleet_name"])
        assert set(host["issues"]) == {"failing_policies_count", "critical_vulnerabilities_count", "total_issues_count"}
        assert host["status"] in ("online", "offline")
        for key in TIME_FIELDS:
            assert RFC3339.match(host[key]), (key, host[key])


def test_device_mapping_and_device_status_are_opt_in(api):
    hosts = api.hosts(page=0, per_page=100, device_mapping="true", include_device_status="1")
    assert all(isinstance(h["device_mapping"], list) for h in hosts)
    assert any(h["device_mapping"] for h in hosts)
    for entry in (e for h in hosts for e in h["device_mapping"]):
        assert set(entry) == {"email", "source"}
    assert all(h["mdm"]["device_status"] == "unlocked" and h["mdm"]["pending_action"] == "" for h in hosts)


def test_count(api, sim):
    assert api.get(f"{HOSTS}/count").json() == {"count": 200}
    sim.delete_host(3)
    assert api.get(f"{HOSTS}/count", page=0, per_page=1).json() == {"count": 199}
    pending = api.get(f"{HOSTS}/count", mdm_enrollment_status="pending").json()["count"]
    assert pending == len(sim.ids_in_situation("abm_pending")) == 2 * SITUATION_SHARES["abm_pending"]


def test_list_filters(api, sim):
    host = sim.host_json(first_in(sim, "healthy", platform="darwin"))
    assert [h["id"] for h in api.hosts(query=host["hardware_serial"])] == [host["id"]]
    unassigned = api.hosts(fleet_id=0)
    assert unassigned and all(h["fleet_id"] is None for h in unassigned)
    assert api.hosts(team_id=1) == api.hosts(fleet_id=1)
    online = api.hosts(status="online")
    assert online and all(h["status"] == "online" for h in online)


def test_get_host_has_the_detail_fields(api, sim):
    host_id = first_in(sim, "healthy", platform="darwin")
    body = api.get(f"{HOSTS}/{host_id}").json()
    assert body == {"host": sim.host_json(host_id)}
    host = body["host"]
    assert set(DETAIL_ONLY_FIELDS) <= set(host)
    assert RFC3339.match(host["last_mdm_checked_in_at"]) and RFC3339.match(host["last_mdm_enrolled_at"])
    (user,) = host["end_users"]
    k = int(re.search(r"(\d+)@demo\.test$", user["idp_username"])[1])
    assert (user["idp_username"], user["idp_full_name"]) == (employee_email(k), employee_name(k))
    assert set(user) >= {"idp_username", "idp_full_name", "idp_groups", "idp_id", "other_emails"}
    assert user["other_emails"] == [{"email": user["idp_username"], "source": "custom"}]
    assert all(set(u) == {"uid", "username", "type", "groupname", "shell"} for u in host["users"])
    assert {"device_status", "pending_action", "profiles", "macos_settings", "os_settings"} <= set(host["mdm"])
    assert "device_mapping" not in host


def test_unknown_or_deleted_host_is_a_fleet_404(api, sim):
    assert_fleet_error(api.get(f"{HOSTS}/9999"), 404, "Resource Not Found")
    sim.delete_host(4)
    assert_fleet_error(api.get(f"{HOSTS}/4"), 404)
    assert_fleet_error(api.get(f"{HOSTS}/4/device_mapping"), 404)


def test_device_mapping_endpoint(api, sim):
    host_id = first_in(sim, "healthy", platform="windows")
    body = api.get(f"{HOSTS}/{host_id}/device_mapping").json()
    assert body["host_id"] == host_id
    assert sorted(m["source"] for m in body["device_mapping"]) == ["custom", "mdm_idp_accounts"]
    assert len({m["email"] for m in body["device_mapping"]}) == 1


def test_lookup_by_identifier_returns_the_oldest_duplicate(api, sim):
    current = sim.ids_in_situation("duplicate_current")[0]
    serial = sim.host_json(current)["hardware_serial"]
    assert api.get(f"{HOSTS}/identifier/{serial}").json()["host"]["id"] == current - 1
    assert_fleet_error(api.get(f"{HOSTS}/identifier/NOPE"), 404)


# ---- actions ------------------------------------------------------------------------------------------

def test_delete_host(api, sim):
    response = api.request("DELETE", f"{HOSTS}/10")
    assert (response.status_code, response.json()) == (200, {})
    assert 10 not in [h["id"] for h in api.hosts()]
    assert api.get(f"{HOSTS}/count").json() == {"count": 199}
    assert_fleet_error(api.request("DELETE", f"{HOSTS}/10"), 404)


def test_turn_off_mdm(api, sim):
    mac = first_in(sim, "healthy", platform="darwin")
    response = api.request("DELETE", f"{HOSTS}/{mac}/mdm")
    assert (response.status_code, response.content) == (204, b"")
    mdm = api.get(f"{HOSTS}/{mac}").json()["host"]["mdm"]
    assert (mdm["enrollment_status"], mdm["connected_to_fleet"]) == ("Off", False)
    windows = first_in(sim, "healthy", platform="windows")
    assert_fleet_error(api.request("DELETE", f"{HOSTS}/{windows}/mdm"), 400)
    assert_fleet_error(api.request("DELETE", f"{HOSTS}/9999/mdm"), 404)


def device_state(api, host_id):
    (host,) = [h for h in api.hosts(page=0, per_page=200, include_device_status="true") if h["id"] == host_id]
    return host["mdm"]["device_status"], host["mdm"]["pending_action"]


def test_wipe_is_pending_through_the_next_listing_then_wiped(api, sim):
    host_id = first_in(sim, "healthy", platform="darwin")
    response = api.request("POST", f"{HOSTS}/{host_id}/wipe")
    assert response.json() == {"device_status": "unlocked", "pending_action": "wipe"}
    assert device_state(api, host_id) == ("unlocked", "wipe")
    assert device_state(api, host_id) == ("wiped", "")
    assert sim.host_json(host_id)["mdm"]["device_status"] == "wiped"
    assert_fleet_error(api.request("POST", f"{HOSTS}/{host_id}/wipe"), 422, "Validation Failed")


def test_lock_then_unlock(api, sim):
    host_id = first_in(sim, "healthy", platform="darwin")
    body = api.request("POST", f"{HOSTS}/{host_id}/lock").json()
    assert re.fullmatch(r"\d{6}", body.pop("unlock_pin"))
    assert body == {"device_status": "unlocked", "pending_action": "lock"}
    assert_fleet_error(api.request("POST", f"{HOSTS}/{host_id}/lock"), 422)  # already pending
    sim.settle_device_actions()
    assert device_state(api, host_id) == ("locked", "")
    body = api.request("POST", f"{HOSTS}/{host_id}/unlock").json()
    assert body == {"host_id": host_id, "device_status": "locked", "pending_action": "unlock"}
    sim.settle_device_actions()
    assert sim.host_json(host_id)["mdm"]["device_status"] == "unlocked"


@pytest.mark.parametrize(("situation", "action"), [("personal", "wipe"), ("abm_pending", "lock"),
                                                   ("unknown_platform", "wipe"), ("profile_removed", "lock")])
def test_actions_fleet_would_refuse(api, sim, situation, action):
    host_id = sim.ids_in_situation(situation)[0]
    assert_fleet_error(api.request("POST", f"{HOSTS}/{host_id}/{action}"), 422)


# ---- determinism over HTTP (the generated fleet itself: test_simulator_hosts.py) ----------------------

def test_same_seed_same_fleet_other_seed_other_fleet(api):
    with FleetSimulator(hosts=200, seed=7, now=NOW) as twin, FleetSimulator(hosts=200, seed=8, now=NOW) as other:
        params = {"page": 1, "per_page": 50, "device_mapping": "true"}
        ours = api.get(HOSTS, **params).json()
        assert Api(twin).get(HOSTS, **params).json() == ours
        assert Api(other).get(HOSTS, **params).json() != ours
    assert api.sim.host_json(17) == api.sim.host_json(17)


# ---- runtime changes ----------------------------------------------------------------------------------

def test_add_hosts_gets_new_higher_ids(api, sim):
    assert sim.add_hosts(3) == [201, 202, 203]
    assert api.all_ids()[-3:] == [201, 202, 203]
    assert api.get(f"{HOSTS}/count").json() == {"count": 203}


def test_reenroll_shows_the_same_device_under_a_new_id(api, sim):
    old_id = first_in(sim, "agent_stale")
    old = sim.host_json(old_id)
    new_id = sim.reenroll(old_id)
    new = api.get(f"{HOSTS}/{new_id}").json()["host"]
    assert new_id == 201 and sim.situation(new_id) == REENROLLED
    assert (new["hardware_serial"], new["uuid"], new["hostname"]) == (old["hardware_serial"], old["uuid"],
                                                                      old["hostname"])
    assert new["created_at"] == new["last_enrolled_at"] == "2026-11-20T10:00:00Z" and new["status"] == "online"
    assert_fleet_error(api.get(f"{HOSTS}/{old_id}"), 404)
    assert sim.reenroll(new_id) == 202 and sim.host_json(202)["uuid"] == old["uuid"]


def test_update_host_overrides_and_merges(sim):
    host_id = first_in(sim, "healthy", platform="darwin")
    sim.update_host(host_id, seen_time=NOW - timedelta(days=9), orbit_version=None, mdm={"enrollment_status": "Off"})
    host = sim.host_json(host_id)
    assert (host["seen_time"], host["status"], host["orbit_version"]) == ("2026-11-11T10:00:00Z", "offline", None)
    assert host["mdm"]["enrollment_status"] == "Off" and host["mdm"]["name"] == "Fleet"
    sim.update_host(host_id, seen_time=NOW)
    assert sim.host_json(host_id)["status"] == "online"
    with pytest.raises(KeyError):
        sim.update_host(9999, hostname="x")


# ---- faults -------------------------------------------------------------------------------------------

def test_status_fault_fires_on_its_page_until_cleared(api, sim):
    sim.faults.status_on_page = {1: 500}
    assert api.get(HOSTS, page=0, per_page=10).status_code == 200
    for _ in range(3):
        assert_fleet_error(api.get(HOSTS, page=1, per_page=10), 500)
    sim.faults.status_on_page.clear()
    assert api.get(HOSTS, page=1, per_page=10).status_code == 200


def test_429_carries_retry_after_and_proxy_statuses_are_html(api, sim):
    sim.faults.status_on_page = {0: 429, 1: 502}
    sim.faults.retry_after_seconds = 7
    response = api.get(HOSTS, page=0, per_page=10)
    assert response.headers["Retry-After"] == "7"
    assert assert_fleet_error(response, 429)["message"] == "limit exceeded, retry after: 7s"
    response = api.get(HOSTS, page=1, per_page=10)
    assert response.status_code == 502 and response.headers["Content-Type"] == "text/html"
    assert "Retry-After" not in response.headers


def test_fail_times_limits_status_faults_in_total(api, sim):
    sim.faults.status_on_page = {0: 503}
    sim.faults.fail_times = 2
    assert [api.get(HOSTS, page=0).status_code for _ in range(4)] == [503, 503, 200, 200]
    assert sim.faults.fired == 2


def test_stop_hangs_up_on_kept_alive_connections(sim, api):
    assert api.get(f"{HOSTS}/count").status_code == 200  # the session now holds a pooled connection
    sim.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(f"{HOSTS}/count", timeout=2)


def test_delay_makes_a_client_time_out_and_stop_does_not_wait_for_it(sim, api):
    sim.faults.delay_seconds_on_page = {2: 30}
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(HOSTS, page=2, per_page=5, timeout=0.3)
    assert api.get(HOSTS, page=1, per_page=5, timeout=2).status_code == 200
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("knob", ["truncated_json_on_page", "invalid_json_on_page"])
def test_broken_bodies(api, sim, knob):
    getattr(sim.faults, knob).add(1)
    response = api.get(HOSTS, page=1, per_page=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    if knob == "truncated_json_on_page":
        assert response.content.startswith(b'{"hosts": [{')
    assert api.get(HOSTS, page=0, per_page=10).json()["hosts"]


def test_html_on_all_answers_everything_with_a_login_page(sim, api):
    sim.faults.html_on_all = True
    for response in (api.get(HOSTS, page=0), api.get(f"{HOSTS}/count"), requests.get(sim.base_url + "/x", timeout=5)):
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
        assert b"<html>" in response.content


def test_mutations_between_pages_run_once_before_the_next_request(api, sim):
    sim.faults.mutate_after_page = {0: lambda s: s.add_hosts(3)}
    assert api.all_ids(per_page=100) == list(range(1, 204))  # the new hosts land on the short last page
    assert api.all_ids(per_page=100) == list(range(1, 204))  # and the mutation ran once only
    assert not sim.faults.mutate_after_page


def test_a_deletion_between_pages_shifts_the_next_page_like_fleet(api, sim):
    sim.faults.mutate_after_page = {0: lambda s: s.delete_host(5)}
    ids = api.all_ids(per_page=100)
    assert ids == list(range(1, 101)) + list(range(102, 201))  # host 101 slid onto page 0 and was missed


def test_a_mutation_waits_for_its_page_to_be_answered(api, sim):
    sim.faults.status_on_page = {0: 500}
    sim.faults.fail_times = 1
    sim.faults.mutate_after_page = {0: lambda s: s.add_hosts(1)}
    assert api.get(HOSTS, page=0, per_page=10).status_code == 500
    assert sim.host_count() == 200
    assert api.get(HOSTS, page=0, per_page=10).status_code == 200
    assert sim.host_count() == 201


def test_a_simulator_bug_is_a_fleet_500_and_is_kept(api, sim):
    sim.faults.mutate_after_page = {0: lambda s: 1 / 0}
    assert_fleet_error(api.get(HOSTS, page=0), 500)
    assert "ZeroDivisionError" in sim.server_errors.pop()


def test_requests_log_keeps_the_latest_requests(api, sim):
    sim.requests_log_max = 3
    api.get(HOSTS, page=0, per_page=5)
    api.request("DELETE", f"{HOSTS}/2")
    api.get(f"{HOSTS}/count")
    api.request("POST", f"{HOSTS}/3/wipe")
    assert sim.requests_log == [("DELETE", f"{HOSTS}/2"), ("GET", f"{HOSTS}/count"), ("POST", f"{HOSTS}/3/wipe")]
    sim.requests_log_max = 10
    api.get(HOSTS, page=0, per_page=5)
    assert sim.requests_log[-1] == ("GET", f"{HOSTS}?page=0&per_page=5")


# ---- scale and concurrency ----------------------------------------------------------------------------

def test_100k_hosts_cost_nothing_up_front_and_a_page_is_fast():
    tracemalloc.start()
    try:
        simulator = FleetSimulator(hosts=100_000, seed=11, now=NOW)
        built, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert built < 200_000  # bytes: no per-host state was created
    with simulator:
        api = Api(simulator)
        started = time.monotonic()
        last = api.hosts(page=199, per_page=500, order_key="id", device_mapping="true")
        assert time.monotonic() - started < 3
        assert [h["id"] for h in last] == list(range(99_501, 100_001))
        simulator.delete_host(99_600)
        assert len(api.hosts(page=199, per_page=500)) == 499
        assert api.get(f"{HOSTS}/count").json() == {"count": 99_999}
        assert simulator.host_json(100_000)["id"] == 100_000
    assert len(simulator._overrides) == 0 and len(simulator._deleted) == 1


def test_concurrent_pages_while_the_fleet_changes(sim):
    errors = []

    def sync():
        client = Api(sim)
        try:
            for page in range(5):
                response = client.get(HOSTS, page=page, per_page=40, device_mapping="true")
                if response.status_code != 200:
                    errors.append(response.status_code)
                response.json()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(8)]
    for thread in threads:
        thread.start()
    for host_id in range(100, 140):
        sim.delete_host(host_id)
        sim.add_hosts(1)
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(sim.host_ids()) == 200


# ---- the management command ----------------------------------------------------------------------------

def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_fleet_simulator_command_serves_until_ctrl_c():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fleet_simulator", "--port", "0", "--hosts", "30", "--seed", "5",
         "--token", "cmd-token"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell's background job (`make test &`) starts with SIGINT ignored and its children inherit that; the
        # command in a terminal, where Ctrl-C is pressed, has the default disposition.
        preexec_fn=_default_sigint)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the command printed nothing"
        url = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())[0]
        assert "cmd-token" in process.stdout.readline()
        response = requests.get(f"{url}{HOSTS}/count", headers={"Authorization": "Bearer cmd-token"}, timeout=5)
        assert response.json() == {"count": 30}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0  # a loaded machine stops it slowly
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
