"""An honest floor for the sync benchmark: Fleet's pages captured once, then served as static bytes.

The simulator (``manage.py fleet_simulator``) builds every page's JSON on demand, in Python: about 3.7x slower
than the same client reading the same bytes from a static server, so a floor measured against it hides the
sync's own cost. ``bench_sync.py`` therefore:

1. **captures** (:func:`capture`, in a process of its own) every request the sync makes of Fleet, through the
   simulator once per fleet: the host count, the Apple push certificate, every page of the host list with the
   query string the client sends, and Get host for every host whose details a sync may ask for
   (``mdm_sync.sync_listing.needs_details`` with ``previously_enrolled=False``, which asks for the most); one file
   per body, listed in ``index.json``;
2. **serves** them (:class:`StaticFleet`) from memory with a ``ThreadingHTTPServer`` on loopback: HTTP/1.1
   keep-alive, ``Content-Length``, the same paths and query strings (the query's order does not matter). An
   unknown path is Fleet's 404 JSON, and counted: a sync that asked for something not captured shows up as
   ``misses`` in the report. Serving a page is a dictionary lookup and one ``sendall``: the floor is the
   client's download and parse alone.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests

HOSTS_PATH = "/api/v1/fleet/hosts"
COUNT_PATH = "/api/v1/fleet/hosts/count"
APNS_PATH = "/api/v1/fleet/apns"
# What ``FleetClient.iter_host_pages`` asks for, the page number apart (mdm_sync.fleet).
LIST_PARAMS = {"order_key": "id", "order_direction": "asc", "include_device_status": "true",
               "device_mapping": "true", "populate_users": "true"}
NOT_FOUND = json.dumps({"message": "Resource Not Found",
                        "errors": [{"name": "base", "reason": "Host was not found in the datastore"}]}).encode()


def request_key(target: str) -> str:
    """A request target (``/path?query``) as a lookup key: the path, and the query's pairs sorted."""
    parts = urlsplit(target)
    query = "&".join(f"{key}={value}" for key, value in sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{parts.path}?{query}" if query else parts.path


def page_target(page: int, per_page: int) -> str:
    return request_key(f"{HOSTS_PATH}?per_page={per_page}&page={page}&"
                       + "&".join(f"{key}={value}" for key, value in LIST_PARAMS.items()))


# --- capture (in a process with Django set up: it uses the sync's own rule for details) ------------------


def capture(base_url: str, token: str, out_dir: Path, *, now, per_page: int) -> dict:
    """Every response a sync of this fleet needs, written to ``out_dir``; returns the summary."""
    from mdm_sync.fleet import FleetHost
    from mdm_sync.health import HealthPolicy
    from mdm_sync.sync_listing import needs_details

    out_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, list] = {}  # key -> [status, file name]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    policy = HealthPolicy()  # the benchmark organization's thresholds are the defaults

    def keep(target: str, response: requests.Response) -> bytes:
        name = f"{len(index):06d}.json"
        (out_dir / name).write_bytes(response.content)
        index[request_key(target)] = [response.status_code, name]
        return response.content

    def get(target: str) -> bytes:
        response = session.get(f"{base_url}{target}", timeout=120)
        if response.status_code >= 500:
            raise RuntimeError(f"capture: {target} answered {response.status_code}")
        return keep(target, response)

    get(COUNT_PATH)
    get(APNS_PATH)
    pages = hosts = 0
    page_bytes = 0
    detail_ids: list[int] = []
    while True:
        target = page_target(pages, per_page)
        body = get(target)
        page_bytes += len(body)
        items = json.loads(body)["hosts"]
        pages += 1
        hosts += len(items)
        for item in items:
            host = FleetHost.from_json(item)
            if needs_details(host, policy=policy, now=now, previously_enrolled=False):
                detail_ids.append(host.id)
        if len(items) < per_page:
            break
    detail_bytes = 0
    for host_id in detail_ids:
        detail_bytes += len(get(f"{HOSTS_PATH}/{host_id}"))
    (out_dir / "index.json").write_text(json.dumps({"index": index, "pages": [
        page_target(page, per_page) for page in range(pages)]}))
    return {"pages": pages, "hosts": hosts, "details": len(detail_ids), "page_mb": page_bytes / 2**20,
            "detail_mb": detail_bytes / 2**20}


def load_capture(out_dir: Path) -> tuple[dict[str, tuple[int, bytes]], list[str]]:
    """The captured responses (key -> (status, body)) and the list pages' targets in order."""
    meta = json.loads((out_dir / "index.json").read_text())
    bodies = {key: (status, (out_dir / name).read_bytes()) for key, (status, name) in meta["index"].items()}
    return bodies, meta["pages"]


# --- serving ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connections as it would with Fleet
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall per request)

    def log_message(self, format, *args):  # noqa: A002 - no access log
        pass

    def do_GET(self):
        fleet: StaticFleet = self.server.fleet
        found = fleet.bodies.get(request_key(self.path))
        if found is None:
            fleet.misses += 1
            status, body = 404, NOT_FOUND
        else:
            status, body = found
            fleet.served += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StaticFleet:
    """The captured bytes on ``127.0.0.1:port``, in a thread of this process, until :meth:`stop`."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.bodies: dict[str, tuple[int, bytes]] = {}
        self.page_targets: list[str] = []
        self.served = self.misses = 0
        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.fleet = self
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="static-fleet", daemon=True)
        self.thread.start()

    def load(self, out_dir: Path) -> None:
        """Serve this capture from now on (the previous one is dropped)."""
        self.bodies = {}
        self.bodies, self.page_targets = load_capture(out_dir)
        self.served = self.misses = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
