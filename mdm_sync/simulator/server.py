"""The simulator's HTTP side: a threading server on loopback and the handler for each Fleet endpoint.

The handler reads and changes the simulator only through its methods; faults (``FleetSimulator.faults``) are
read per request, so a test can change them while the server runs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import socket
import threading
import traceback
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from mdm_sync.simulator.labels import LabelConflict
from mdm_sync.simulator.query import BadRequest, ListQuery

MAX_BODY_BYTES = 1024 * 1024  # Fleet's default request body cap

_ERROR_MESSAGES = {400: "Bad request", 401: "Authentication required", 403: "Permission Denied",
                   404: "Resource Not Found", 405: "Method Not Allowed", 409: "Conflict",
                   413: "Request Entity Too Large", 422: "Validation Failed", 500: "Internal Server Error"}
_PROXY_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in - Corporate Access Proxy</title></head><body>"
               b"<h1>Sign in to continue</h1><form method=\"post\" action=\"/login\"><input name=\"username\">"
               b"<input name=\"password\" type=\"password\"><button>Sign in</button></form></body></html>")
_PREFIX = r"^/api/(?:v1|latest)/fleet"
_ROUTES: tuple[tuple[re.Pattern, dict[str, str]], ...] = (
    (re.compile(_PREFIX + r"/hosts$"), {"GET": "list_hosts"}),
    (re.compile(_PREFIX + r"/hosts/count$"), {"GET": "count_hosts"}),
    (re.compile(_PREFIX + r"/hosts/identifier/([^/]+)$"), {"GET": "host_by_identifier"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)$"), {"GET": "get_host", "DELETE": "delete_host"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/device_mapping$"), {"GET": "get_device_mapping"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/mdm$"), {"DELETE": "turn_off_mdm"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/(lock|unlock|wipe)$"), {"POST": "device_action"}),
    (re.compile(_PREFIX + r"/(?:apns|mdm/apple)$"), {"GET": "get_apns"}),
    (re.compile(_PREFIX + r"/labels$"), {"GET": "list_labels", "POST": "create_label"}),
    (re.compile(_PREFIX + r"/labels/(\d+)$"), {"GET": "get_label", "PATCH": "modify_label"}),
    (re.compile(_PREFIX + r"/labels/id/(\d+)$"), {"DELETE": "delete_label"}),
)


def fleet_error(status: int, reason: str, message: str | None = None) -> dict:
    """Fleet's error body: message, errors[{name, reason}], uuid."""
    return {"message": message or _ERROR_MESSAGES.get(status, reason), "errors": [{"name": "base", "reason": reason}],
            "uuid": str(uuid.uuid4())}


class FleetServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections of a test's Session
    allow_reuse_address = True

    def __init__(self, address, handler, simulator):
        self.simulator = simulator  # the FleetSimulator it answers for (it opens this server: see its bind())
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive clients: after stop() nothing may still answer, as with a dead Fleet."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):  # a client hung up: not worth a traceback
        pass


class FleetRequestHandler(BaseHTTPRequestHandler):
    # Like Fleet's Go server: small answers go out at once instead of waiting ~40 ms for Nagle's algorithm.
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"  # keep-alive, like Fleet behind any load balancer
    server_version = "fleet-simulator"
    timeout = 30  # idle keep-alive connections close, so handler threads stay bounded

    server: FleetServer

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr access log
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    @property
    def sim(self):
        """The :class:`~mdm_sync.simulator.state.FleetSimulator` this server answers for."""
        return self.server.simulator

    def send_response(self, code, message=None):
        self._answered = True
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        self._answered = False
        sim = self.sim
        sim._log(method, self.path)
        try:
            if not self._drain_body():
                return
            if sim.faults.html_on_all:
                return self._send(200, _LOGIN_PAGE, "text/html; charset=utf-8")
            if self.headers.get("Authorization", "") != f"Bearer {sim.token}":
                return self._error(401, "Authentication required")
            url = urlsplit(self.path)
            for pattern, methods in _ROUTES:
                match = pattern.match(url.path)
                if match:
                    if method not in methods:
                        return self._error(405, f"{method} is not allowed on {url.path}")
                    return getattr(self, methods[method])(*match.groups(), params=parse_qs(url.query))
            return self._error(404, f"{url.path} was not found")
        except BadRequest as exc:
            self._error(400, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a simulator bug: answer like Fleet's 500 and keep it for the tests
            sim.server_errors.append(traceback.format_exc())
            if self._answered:  # mid-body: the only honest signal left is hanging up
                self.close_connection = True
            else:
                self._error(500, f"simulator error: {exc}")

    def _drain_body(self) -> bool:
        """Read (and ignore) a request body; refuse bodies over Fleet's 1 MiB default."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(413 if length > 0 else 400, "request body too large or invalid Content-Length")
            return False
        self._body = self.rfile.read(length) if length else b""  # read by the endpoints that take a body
        return True

    def _json_body(self) -> dict:
        try:
            body = json.loads(self._body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    # ---- responses -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:  # RFC 9110: no Content-Length on 204
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode())

    def _error(self, status: int, reason: str, message: str | None = None, headers=None) -> None:
        self._send(status, json.dumps(fleet_error(status, reason, message)).encode(), headers=headers)

    def _stream_hosts(self, hosts: Iterable[dict]) -> None:
        """``{"hosts": [...]}`` in HTTP chunks of ~64 KB, so even an unpaged 100k listing uses little memory."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        buffer, size, first = [b'{"hosts": ['], 11, True
        for host in hosts:
            piece = (b"" if first else b", ") + json.dumps(host).encode()
            first = False
            buffer.append(piece)
            size += len(piece)
            if size >= 65536:
                self._chunk(b"".join(buffer))
                buffer, size = [], 0
        buffer.append(b"]}")
        self._chunk(b"".join(buffer))
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # ---- endpoints -----------------------------------------------------------------------------

    def list_hosts(self, *, params) -> None:
        sim, query = self.sim, ListQuery.parse(params)
        page, faults = query.fault_page, sim.faults
        delay = faults.delay_seconds_on_page.get(page)
        if delay and sim._stopping.wait(delay):
            self.close_connection = True
            return
        with sim._lock:
            status = faults.take_status(page)
            mutate = None if status is not None else faults.mutate_after_page.pop(page, None)
        if status is not None:
            return self._fault_status(status)
        if query.page in (None, 0):
            sim._note_listing_started()
        ids, records = sim.select(query)
        view = functools.partial(sim.list_view, device_mapping=query.device_mapping,
                                 include_device_status=query.include_device_status,
                                 populate_users=query.populate_users)
        broken = page in faults.truncated_json_on_page or page in faults.invalid_json_on_page
        if mutate is not None or broken:
            hosts = [view(h) for h in (records if records is not None else map(sim._full_host, ids)) if h]
            if mutate is not None:
                mutate(sim)
            if page in faults.invalid_json_on_page:
                return self._send(200, b"<<< upstream sent something that is not JSON >>>")
            if page in faults.truncated_json_on_page:
                body = json.dumps({"hosts": hosts}).encode()
                return self._send(200, body[: len(body) // 2])
            return self._stream_hosts(hosts)
        source = records if records is not None else (sim._full_host(host_id) for host_id in ids)
        self._stream_hosts(view(h) for h in source if h is not None)

    def _fault_status(self, status: int) -> None:
        retry = self.sim.faults.retry_after_seconds
        headers = {"Retry-After": str(retry)} if retry is not None and status in (429, 503) else {}
        if status in _PROXY_STATUSES:  # what a load balancer in front of Fleet sends
            title = f"{status} {_PROXY_STATUSES[status]}".encode()
            body = b"<html><head><title>%s</title></head><body><center><h1>%s</h1></center></body></html>" % (
                title, title)
            return self._send(status, body, "text/html", headers)
        if status == 429:
            text = f"limit exceeded, retry after: {retry or 1}s"
            return self._error(429, text, text, headers)
        return self._error(status, f"simulated failure ({status})", _ERROR_MESSAGES.get(status, "error"), headers)

    def count_hosts(self, *, params) -> None:
        self._json(200, {"count": self.sim.count(ListQuery.parse(params))})

    def get_host(self, host_id, *, params) -> None:
        host = self.sim.host_json(int(host_id))
        if host is None:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {"host": host})

    def get_apns(self, *, params) -> None:
        status = self.sim.faults.apns_status
        if status is not None:
            return self._fault_status(status)
        body = self.sim.apns_json()
        if body is None:  # Fleet: "if there is no apple mdm config, fail with a 404"
            return self._error(404, "Resource Not Found")
        self._json(200, body)

    def host_by_identifier(self, identifier, *, params) -> None:
        """Lookup by hostname, uuid or serial; with duplicates the oldest (lowest id) wins, as in Fleet."""
        identifier = unquote(identifier)
        for host_id in self.sim.host_ids():
            host = self.sim.host_json(host_id)
            if host and identifier and identifier in (host["hostname"], host["uuid"], host["hardware_serial"]):
                return self._json(200, {"host": host})
        self._error(404, "Host doesn't exist. Make sure you provide a valid hostname, UUID, or serial number.")

    def delete_host(self, host_id, *, params) -> None:
        try:
            self.sim.delete_host(int(host_id))
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {})

    def get_device_mapping(self, host_id, *, params) -> None:
        mapping = self.sim.device_mapping(int(host_id))
        if mapping is None:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {"host_id": int(host_id), "device_mapping": mapping})

    def turn_off_mdm(self, host_id, *, params) -> None:
        try:
            self.sim.turn_off_mdm(int(host_id))
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        except ValueError as exc:
            return self._error(400, str(exc))
        self._send(204, b"")

    def device_action(self, host_id, action, *, params) -> None:
        try:
            body = self.sim.queue_device_action(int(host_id), action)
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, body)

    def _labels_fault(self) -> bool:
        status = self.sim.faults.labels_status
        if status is None:
            return False
        self._fault_status(status)
        return True

    def list_labels(self, *, params) -> None:
        if not self._labels_fault():
            self._json(200, {"labels": self.sim.labels()})

    def get_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        label = self.sim.label_json(int(label_id))
        if label is None:
            return self._error(404, "Label was not found in the datastore")
        self._json(200, {"label": label})

    def create_label(self, *, params) -> None:
        if self._labels_fault():
            return
        try:
            label = self.sim.create_label(self._json_body())
        except LabelConflict as exc:
            return self._error(409, str(exc), "Resource Already Exists")
        self._json(200, {"label": label})

    def modify_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        try:
            label = self.sim.modify_label(int(label_id), self._json_body())
        except KeyError:
            return self._error(404, "Label was not found in the datastore")
        except LabelConflict as exc:
            return self._error(409, str(exc), "Resource Already Exists")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, {"label": label})

    def delete_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        try:
            self.sim.delete_label(int(label_id))
        except KeyError:
            return self._error(404, "Label was not found in the datastore")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, {})

