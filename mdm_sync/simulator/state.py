"""The simulator's state: the hosts Fleet knows now (generated ones, minus deletions, plus additions,
re-enrollments, field overrides and queued lock/wipe), the Apple push certificate, the failure knobs
(:class:`Faults`) and the listing. Every change is thread-safe: the HTTP server answers from many threads.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mdm_sync.simulator.identity import (
    APPLE,
    LINUX,
    MDM_OFF_PLATFORMS,
    REENROLLED,
    employee_count_for,
    employee_email,
    employee_name,
    employee_username,
    layout_situation,
)
from mdm_sync.simulator.labels import SimulatedLabels
from mdm_sync.simulator.query import BadRequest, ListQuery, host_matches
from mdm_sync.simulator.records import (
    DETAIL_ONLY_FIELDS,
    LIST_MDM_FIELDS,
    Clock,
    host_record,
    is_online,
    parse_time,
    rfc3339,
)
from mdm_sync.simulator.server import FleetRequestHandler, FleetServer


@dataclass
class Faults:
    """Failure knobs for list-hosts pages, read per request (mutate them while the server runs).

    A page is the ``page`` query parameter (0-based); a listing without ``page`` counts as page 0.
    Statuses 502/503/504 are answered with a load balancer's HTML page (what really sits in front of
    Fleet); any other status with Fleet's error JSON. Order per request: delay, status, mutation, body.
    """

    status_on_page: dict[int, int] = field(default_factory=dict)  # page -> HTTP status, until cleared
    retry_after_seconds: int | None = None  # Retry-After header on 429 and 503 answers
    fail_times: int | None = None  # if set, status_on_page fires only this many times in total
    delay_seconds_on_page: dict[int, float] = field(default_factory=dict)  # sleep before answering the page
    truncated_json_on_page: set[int] = field(default_factory=set)  # first half of the JSON body only
    invalid_json_on_page: set[int] = field(default_factory=set)  # a body that is not JSON at all
    html_on_all: bool = False  # every request gets a 200 text/html login page (a proxy in the way)
    # Called once per entry, after the page's hosts are captured and before the answer is sent, so the
    # client's next request already sees the change (hosts enrolled or deleted between two pages).
    mutate_after_page: dict[int, Callable[[FleetSimulator], None]] = field(default_factory=dict)
    apns_status: int | None = None  # GET /apns answers this status (Fleet's error JSON) until cleared
    labels_status: int | None = None  # every /labels request answers this status until cleared (as apns_status)
    fired: int = 0  # how many status_on_page faults were answered (read by tests; counts toward fail_times)

    def take_status(self, page: int) -> int | None:
        """The fault status for this page, counting it against ``fail_times``."""
        status = self.status_on_page.get(page)
        if status is None or (self.fail_times is not None and self.fired >= self.fail_times):
            return None
        self.fired += 1
        return status


@dataclass(slots=True)
class _Action:
    device_status: str  # state to show while pending
    pending_action: str  # lock / unlock / wipe
    final_status: str  # state once the device acknowledged
    listings: int = 0  # listings started since the command was queued


class FleetSimulator(SimulatedLabels):
    """A Fleet server on loopback with ``hosts`` generated hosts (ids 1..hosts), deterministic per seed."""

    requests_log_max = 10_000
    action_settle_listings = 2  # a lock/wipe shows its final state from the 2nd listing after it
    employee_name = staticmethod(employee_name)
    employee_email = staticmethod(employee_email)
    employee_username = staticmethod(employee_username)
    employee_count_for = staticmethod(employee_count_for)

    def __init__(self, *, hosts: int = 200, seed: int = 1, token: str = "sim-token", host: str = "127.0.0.1",
                 port: int = 0, email_domain: str = "demo.test", now: datetime | None = None):
        if hosts < 0:
            raise ValueError("hosts must be zero or more")
        self.seed, self.token, self.host, self.port = seed, token, host, port
        self.email_domain = email_domain
        self.employee_count = employee_count_for(hosts)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._fixed_now = now.replace(microsecond=0) if now else None
        self._anchor = self._fixed_now or datetime.now(UTC).replace(microsecond=0)
        self.faults = Faults()
        self.base_url = ""
        self.requests_log: list[tuple[str, str]] = []
        self.server_errors: deque[str] = deque(maxlen=100)  # tracebacks of 500s the simulator itself raised
        self._lock = threading.RLock()
        self._max_id = hosts
        self._deleted: set[int] = set()
        self._deleted_sorted: list[int] = []
        self._identity_of: dict[int, int] = {}  # re-enrolled host id -> generated index of its device
        self._overrides: dict[int, dict] = {}
        self._actions: dict[int, _Action] = {}
        self._server: FleetServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.apns = "valid"
        self.apns_renew_date: datetime | None = None
        self._init_labels()

    # ---- Apple push certificate ------------------------------------------------------------------

    APNS_STATES = ("valid", "expiring", "expired", "not_configured")

    def set_apns(self, state: str, *, renew_date: datetime | None = None) -> None:
        """``valid`` (renews in 200 days), ``expiring`` (in 10 days), ``expired`` (3 days ago) or
        ``not_configured`` (Fleet answers 404, as when Apple MDM is not set up); ``renew_date`` overrides."""
        if state not in self.APNS_STATES:
            raise ValueError(f"APNs state must be one of {', '.join(self.APNS_STATES)}")
        self.apns, self.apns_renew_date = state, renew_date

    def apns_json(self) -> dict | None:
        """``GET /api/v1/fleet/apns``'s body, or None when no certificate is configured."""
        if self.apns == "not_configured":
            return None
        offsets = {"valid": timedelta(days=200), "expiring": timedelta(days=10), "expired": timedelta(days=-3)}
        renew = self.apns_renew_date or self.now() + offsets[self.apns]
        return {"common_name": f"APSP:{uuid.UUID(int=self.seed)}", "serial_number": str(7_000_000 + self.seed),
                "issuer": "Apple Application Integration 2 Certification Authority", "renew_date": rfc3339(renew)}

    # ---- lifecycle ---------------------------------------------------------------------------

    def bind(self) -> FleetSimulator:
        """Open the listening socket (port 0 = a free port) and set ``base_url``, without serving yet."""
        if self._server is None:
            self._stopping.clear()
            self._server = FleetServer((self.host, self.port), FleetRequestHandler, self)
            self.port = self._server.server_address[1]
            self.base_url = f"http://{self.host}:{self.port}"
        return self

    def start(self) -> FleetSimulator:
        """Serve in a daemon thread; returns self so ``sim = FleetSimulator().start()`` reads well."""
        server = self.bind()._server
        if self._thread is None:
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"fleet-simulator-{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C raises KeyboardInterrupt here)."""
        server = self.bind()._server
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving and close the socket; requests sleeping on a delay fault give up at once."""
        self._stopping.set()
        if self._thread is not None and self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._thread = None
        self._close()

    def _close(self) -> None:
        if self._server is not None:
            self._server.server_close()
            self._server.close_connections()
            self._server = None

    def __enter__(self) -> FleetSimulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator's current time: the fixed ``now`` if one was given, else the real clock."""
        return self._fixed_now or datetime.now(UTC).replace(microsecond=0)

    def _clock(self) -> Clock:
        return Clock(live=self.now(), anchor=self._anchor)

    # ---- hosts ---------------------------------------------------------------------------------

    def _exists(self, host_id: int) -> bool:
        return 1 <= host_id <= self._max_id and host_id not in self._deleted

    def situation(self, host_id: int) -> str:
        """The situation a host was generated in (also for deleted ids); KeyError for ids never issued."""
        if not 1 <= host_id <= self._max_id:
            raise KeyError(host_id)
        return REENROLLED if host_id in self._identity_of else layout_situation(self.seed, host_id)

    def _identity_index(self, host_id: int) -> int:
        """Which generated device a host id shows: its own, its stale twin's, or the one it re-enrolled."""
        if host_id in self._identity_of:
            return self._identity_of[host_id]
        return host_id - 1 if layout_situation(self.seed, host_id) == "duplicate_current" else host_id

    def ids_in_situation(self, name: str, limit: int | None = None) -> list[int]:
        """Current ids in a situation, ascending (scans ids; fine for test-sized fleets)."""
        found = []
        for host_id in self._iter_ids():
            if self.situation(host_id) == name:
                found.append(host_id)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def employees(self) -> Iterator[tuple[int, str, str]]:
        """(k, name, e-mail) of every employee the generated hosts point at."""
        for k in range(1, self.employee_count + 1):
            yield k, employee_name(k), employee_email(k, self.email_domain)

    def host_ids(self) -> list[int]:
        """Current ids in ascending order."""
        with self._lock:
            return list(self._iter_ids())

    def host_count(self) -> int:
        return self._max_id - len(self._deleted)

    def _iter_ids(self, start: int = 1, step: int = 1) -> Iterator[int]:
        host_id = start
        while 1 <= host_id <= self._max_id:
            if host_id not in self._deleted:
                yield host_id
            host_id += step

    def _full_host(self, host_id: int) -> dict | None:
        """Get-host object plus ``device_mapping``, with overrides and lock/wipe state applied."""
        with self._lock:
            if not self._exists(host_id):
                return None
            overrides = copy.deepcopy(self._overrides.get(host_id, {}))
            action = self._actions.get(host_id)
            index = self._identity_index(host_id)
            situation = self.situation(host_id)
        clock = self._clock()
        host = host_record(self.seed, host_id, index, situation, self.employee_count, self.email_domain, clock)
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(host.get(key), dict):
                host[key].update(value)
            else:
                host[key] = value
        if "status" not in overrides and "seen_time" in overrides:
            seen = parse_time(host["seen_time"])
            interval = min(host["distributed_interval"], host["config_tls_refresh"])
            host["status"] = "online" if is_online(seen, interval, clock.live) else "offline"
        if action is not None:
            done = action.listings >= self.action_settle_listings
            host["mdm"]["device_status"] = action.final_status if done else action.device_status
            host["mdm"]["pending_action"] = "" if done else action.pending_action
        return host

    def host_json(self, host_id: int) -> dict | None:
        """The Get-host body's ``host`` object (None if the id is unknown or deleted)."""
        host = self._full_host(host_id)
        if host is not None:
            host.pop("device_mapping")
        return host

    def device_mapping(self, host_id: int) -> list[dict] | None:
        host = self._full_host(host_id)
        return None if host is None else host["device_mapping"]

    def list_view(self, host: dict, *, device_mapping: bool, include_device_status: bool,
                  populate_users: bool = False) -> dict:
        """Reduce a full record to what List hosts returns (``users`` only with ``populate_users``)."""
        view = {key: value for key, value in host.items() if key not in DETAIL_ONLY_FIELDS}
        if populate_users:
            view["users"] = host["users"]
        mdm_keys = LIST_MDM_FIELDS + (("device_status", "pending_action") if include_device_status else ())
        view["mdm"] = {key: host["mdm"][key] for key in mdm_keys}
        if not device_mapping:
            view["device_mapping"] = None
        return view

    # ---- changes (thread-safe) -----------------------------------------------------------------

    def add_hosts(self, n: int) -> list[int]:
        """Enroll *n* new generated hosts with new, higher ids (same situation layout as the rest)."""
        with self._lock:
            first = self._max_id + 1
            self._max_id += n
            return list(range(first, self._max_id + 1))

    def delete_host(self, host_id: int) -> None:
        with self._lock:
            if not self._exists(host_id):
                raise KeyError(host_id)
            self._deleted.add(host_id)
            bisect.insort(self._deleted_sorted, host_id)
            self._overrides.pop(host_id, None)
            self._actions.pop(host_id, None)

    def reenroll(self, host_id: int) -> int:
        """Fleet re-enrollment after deletion: same device (serial, uuid, owner) under a new, higher id."""
        with self._lock:
            index = self._identity_index(host_id)
            self.delete_host(host_id)
            new_id = self.add_hosts(1)[0]
            self._identity_of[new_id] = index
            moment = rfc3339(self.now())
            self._overrides[new_id] = {"created_at": moment, "last_enrolled_at": moment, "seen_time": moment,
                                       "detail_updated_at": moment, "updated_at": moment}
            return new_id

    def update_host(self, host_id: int, **fields) -> None:
        """Override fields (datetimes become RFC3339; dict values such as ``mdm={...}`` are merged)."""
        with self._lock:
            if not self._exists(host_id):
                raise KeyError(host_id)
            current = self._overrides.setdefault(host_id, {})
            for key, value in fields.items():
                value = rfc3339(value) if isinstance(value, datetime) else copy.deepcopy(value)
                if isinstance(value, dict) and isinstance(current.get(key), dict):
                    current[key].update(value)
                else:
                    current[key] = value

    def queue_device_action(self, host_id: int, action: str) -> dict:
        """Queue lock / unlock / wipe like Fleet does; raises ValueError with Fleet's refusal reason."""
        with self._lock:  # check and queue atomically: of two concurrent wipes, one is refused
            host = self._full_host(host_id)
            if host is None:
                raise KeyError(host_id)
            refusal = _action_refusal(host, action)
            if refusal:
                raise ValueError(refusal)
            current = host["mdm"]["device_status"]
            final = {"lock": "locked", "unlock": "unlocked", "wipe": "wiped"}[action]
            self._actions[host_id] = _Action(device_status=current, pending_action=action, final_status=final)
        body = {"device_status": current, "pending_action": action}
        if action == "lock" and host["platform"] == "darwin":
            body = {"unlock_pin": f"{random.Random(f'fleet-sim-pin:{self.seed}:{host_id}').randrange(10**6):06d}",
                    **body}
        if action == "unlock":
            body = {"host_id": host_id, **body}
        return body

    def settle_device_actions(self) -> None:
        """Let every queued lock/unlock/wipe complete now (as if each device had checked in)."""
        with self._lock:
            for action in self._actions.values():
                action.listings = self.action_settle_listings

    def turn_off_mdm(self, host_id: int) -> None:
        host = self._full_host(host_id)
        if host is None:
            raise KeyError(host_id)
        if host["platform"] not in MDM_OFF_PLATFORMS:
            raise ValueError("Turning off MDM is only supported for macOS, iOS, iPadOS and Android hosts.")
        self.update_host(host_id, mdm={"enrollment_status": "Off", "name": "", "server_url": None,
                                       "connected_to_fleet": False, "encryption_key_available": False,
                                       "profiles": []})

    def _note_listing_started(self) -> None:
        with self._lock:
            for action in self._actions.values():
                action.listings += 1

    def _log(self, method: str, path: str) -> None:
        with self._lock:
            self.requests_log.append((method, path[:2048]))
            excess = len(self.requests_log) - self.requests_log_max
            if excess > 0:
                del self.requests_log[:excess]


    # ---- listing -------------------------------------------------------------------------------

    def _nth_alive(self, rank: int) -> int:
        """The id at 0-based ascending position *rank* among existing ids (may exceed the last id)."""
        target = rank + 1
        host_id = target
        while True:  # least fixpoint of id = target + deleted(<= id); it is never a deleted id
            candidate = target + bisect.bisect_right(self._deleted_sorted, host_id)
            if candidate == host_id:
                return host_id
            host_id = candidate

    def _alive_upto(self, host_id: int) -> int:
        """How many existing ids are <= host_id."""
        host_id = max(0, min(host_id, self._max_id))
        return host_id - bisect.bisect_right(self._deleted_sorted, host_id)

    def page_ids(self, query: ListQuery) -> list[int]:
        """Ids of one page in id order, in O(page + log deletions): the common sync path."""
        with self._lock:
            total = self.host_count()
            skip = (query.page or 0) * (query.limit or 0)
            if query.after is not None:
                if not query.after.lstrip("-").isdigit():
                    raise BadRequest(f"invalid after value for order_key id: {query.after!r}")
                after = int(query.after)
                skip += total - self._alive_upto(after - 1) if query.descending else self._alive_upto(after)
            if skip >= total:
                return []
            count = min(query.limit if query.limit is not None else total, total - skip)
            if query.descending:
                ids = self._iter_ids(self._nth_alive(total - 1 - skip), -1)
            else:
                ids = self._iter_ids(self._nth_alive(skip))
            return list(itertools.islice(ids, count))

    def select(self, query: ListQuery) -> tuple[list[int], list[dict] | None]:
        """Resolve a listing to ids (fast path) or, with filters or another order, to full records."""
        if not query.filters and query.order_key in (None, "id"):
            return self.page_ids(query), None
        now = self.now()
        hosts = [h for h in map(self._full_host, self.host_ids()) if h and host_matches(h, query.filters, now)]
        key = query.order_key or "id"
        if hosts and (key not in hosts[0] or isinstance(hosts[0][key], dict | list)):
            raise BadRequest(f"invalid order_key: {key}")
        hosts.sort(key=lambda h: (h[key] is not None, h[key] if h[key] is not None else 0, h["id"]),
                   reverse=query.descending)
        if query.after is not None:
            hosts = [h for h in hosts if (str(h[key]) < query.after if query.descending else str(h[key]) > query.after)]
        offset = (query.page or 0) * (query.limit or 0)
        return [], hosts[offset: offset + query.limit if query.limit is not None else None]

    def count(self, query: ListQuery) -> int:
        if not query.filters:
            return self.host_count()
        now = self.now()
        return sum(1 for h in map(self._full_host, self.host_ids()) if h and host_matches(h, query.filters, now))

def _action_refusal(host: dict, action: str) -> str | None:
    """Why Fleet would refuse a lock/unlock/wipe for this host, or None."""
    platform, mdm = host["platform"], host["mdm"]
    enrolled = (mdm["enrollment_status"] or "").startswith("On") and mdm["name"] == "Fleet"
    if mdm["pending_action"]:
        return f"Host has pending {mdm['pending_action']} request. The host will {mdm['pending_action']} " \
               "when it comes online."
    if mdm["device_status"] == "wiped":
        return "Host is wiped."
    if action == "unlock" and mdm["device_status"] != "locked":
        return "Host is not locked."
    if action == "lock" and mdm["device_status"] == "locked":
        return "Host is already locked."
    if mdm["enrollment_status"] == "On (personal)" and action == "wipe":
        return "Personal (BYOD) hosts cannot be wiped."
    if platform in APPLE or platform == "android" or (platform == "windows" and action == "wipe"):
        return None if enrolled else f"Can't {action} the host because it doesn't have MDM turned on."
    if platform == "windows" or platform in LINUX:
        return None if host["scripts_enabled"] else f"Can't {action} the host because fleetd scripts are disabled."
    return f"Can't {action} {platform} hosts."
