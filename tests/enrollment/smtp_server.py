"""A small SMTP server on loopback, the peer of the bulk-send tests: it speaks the part of RFC 5321 Django's SMTP
backend uses (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps each message it accepted.

``hang_after = n`` makes it take the (n+1)th message's data and never answer it (a server that stalls, or a worker
killed while it waits): that message is not delivered, as with any SMTP server that did not say 250."""

import socketserver
import threading
from dataclasses import dataclass


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        server: SmtpServer = self.server.owner
        self.reply("220 localhost test SMTP ready")
        sender, recipients = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = line.decode().split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                if server.take_or_hang():
                    return  # never answered: not delivered
                server.accept(Received(sender, recipients, data))
                self.reply("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                sender, recipients = ("", []) if verb == "RSET" else (sender, recipients)
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SmtpServer:
    def __init__(self):
        self.messages: list[Received] = []
        self.hang_after: int | None = None
        self.hanging = threading.Event()  # set while a message waits for an answer it will never get
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self
        self.port = self._server.server_address[1]

    def take_or_hang(self) -> bool:
        with self._lock:
            hang = self.hang_after is not None and len(self.messages) >= self.hang_after
        if hang:
            self.hanging.set()
            self._release.wait(120)
        return hang

    def release(self) -> None:
        """Stop hanging: the message left waiting is dropped (its connection closes), the next ones are taken."""
        with self._lock:
            self.hang_after = None
        self._release.set()

    def accept(self, message: Received) -> None:
        with self._lock:
            self.messages.append(message)

    def recipients(self) -> list[str]:
        with self._lock:
            return [address for message in self.messages for address in message.recipients]

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, name="test-smtp", daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
