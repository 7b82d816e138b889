"""A webhook receiver as a customer runs one: a real HTTP server on loopback that verifies every request with the
``standardwebhooks`` package (``Webhook(secret).verify(body, headers)``) and records what it got.

``answers`` scripts what it does with the next requests, one item each (then ``default``): an HTTP status, ``"slow"``
(answers after ``slow_seconds``, past the sender's timeout) or ``"hang_up"`` (closes the connection without a word).
"""

import http.server
import threading
import time
from dataclasses import dataclass, field

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    verified: bool
    payload: dict | None
    error: str = ""


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    answers: list = field(default_factory=list)
    default: int = 204
    slow_seconds: float = 3.0
    response_body: bytes = b'{"ok": true}'
    extra_headers: dict = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._record(self.path, dict(self.headers.items()), body)
                answer = receiver._next_answer()
                if answer == "hang_up":
                    self.close_connection = True
                    self.connection.close()
                    return
                if answer == "slow":
                    time.sleep(receiver.slow_seconds)
                    answer = 200
                self.send_response(answer)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a connection the script hung up on

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/fleet"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_answer(self):
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    def _record(self, path: str, headers: dict, body: bytes) -> None:
        verified, payload, error = False, None, "no secret"
        for secret in self.secrets:
            try:
                payload = Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                error = str(exc)
                continue
            verified, error = True, ""
            break
        with self._lock:
            self.received.append(Received(path, headers, body, verified, payload, error))

    def payloads(self, event_type: str | None = None) -> list[dict]:
        """The verified payloads, in arrival order (of one type)."""
        return [item.payload for item in self.received
                if item.verified and (event_type is None or item.payload["type"] == event_type)]


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
