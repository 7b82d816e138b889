"""The HTTP end of webhooks: one POST to an endpoint, to an address checked first.

A webhook URL is typed by a customer and fetched by our servers, so it must not reach what only they can reach
(server-side request forgery): the host is resolved, and every address it resolves to must be public. Link-local
(cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are always refused; loopback and
private ones (10/8, 172.16/12, 192.168/16, fc00::/7, ::1, 127/8…) only while ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is
on (tests and demos: a receiver on this machine or the LAN). The check runs when an endpoint is saved and again
before each request (DNS may have changed), and the request goes to the address that was checked, so a name that
resolves differently a moment later cannot slip through. Redirects are not followed, timeouts are short, and at
most ``MAX_RESPONSE_BYTES`` of the answer are read.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.utils.translation import gettext as _
from urllib3 import exceptions as urllib3_errors

MAX_RESPONSE_BYTES = 2048
EXCERPT_CHARS = 1000
CONNECT_TIMEOUT = 5.0
USER_AGENT = "FleetCockpit-Webhooks/1.0"


class TargetRefused(Exception):
    """The URL cannot be used: not http(s), no host, a host that does not resolve or resolves to a refused address."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def address_refusal(address, *, private_allowed: bool) -> str | None:
    """Why this address may not be called, or None."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return _("a link-local address")
    if ip.is_multicast:
        return _("a multicast address")
    if ip.is_loopback:  # before "reserved": ::1 is in ::/8
        return None if private_allowed else _("a loopback address")
    if ip.is_unspecified or ip.is_reserved:
        return _("a reserved address")
    if (ip.is_private or not ip.is_global) and not private_allowed:
        return _("a private address")
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    hostname: str
    port: int
    path: str
    host_header: str
    addresses: tuple[str, ...]


def check_url(url: str, *, private_allowed: bool | None = None) -> Target:
    """The checked target of ``url``, or :class:`TargetRefused` saying why not."""
    private_allowed = allow_private() if private_allowed is None else private_allowed
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(_("This is not a valid URL.")) from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(_("Use an http:// or https:// URL."))
    if not parts.hostname:
        raise TargetRefused(_("The URL has no host."))
    if parts.username or parts.password:
        raise TargetRefused(_("Put no user name or password in the URL: the signature authenticates each request."))
    hostname = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(hostname, port)
    for address in addresses:
        why = address_refusal(address, private_allowed=private_allowed)
        if why:
            raise TargetRefused(_("%(host)s is %(why)s (%(address)s): webhooks go to public addresses only.")
                                % {"host": hostname, "why": why, "address": address})
    host_header = _idna(hostname) if ":" not in hostname else f"[{hostname}]"
    if parts.port:
        host_header += f":{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, hostname, port, path, host_header, addresses)


def _idna(hostname: str) -> str:
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise TargetRefused(_("The host name is not valid.")) from exc


def _resolve(hostname: str, port: int) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(hostname)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(_idna(hostname), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(_("The host %(host)s cannot be resolved.") % {"host": hostname}) from exc
    addresses = tuple(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    if not addresses:
        raise TargetRefused(_("The host %(host)s cannot be resolved.") % {"host": hostname})
    return addresses


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Outcome:
    """POST ``body`` to ``url`` once (no retry, no redirect); the answer's status and the start of its body, or why
    nothing came back. Never raises for the network or the endpoint."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(url)
    except TargetRefused as exc:
        return Outcome(error=str(exc)[:500], duration_ms=elapsed())
    pool = _pool(target, timeout)
    try:
        response = pool.urlopen("POST", target.path, body=body, redirect=False, retries=False,
                                preload_content=False, assert_same_host=False,
                                headers={"Host": target.host_header, "User-Agent": USER_AGENT, **headers})
        try:
            excerpt = _read_capped(response, deadline=started + timeout)
        finally:
            response.release_conn()
        if 300 <= response.status < 400:
            return Outcome(status_code=response.status, excerpt=excerpt, duration_ms=elapsed(), error=_(
                "Answered a redirect (%(status)s to %(location)s); redirects are not followed: use the final URL.")
                % {"status": response.status, "location": response.headers.get("Location", "?")[:200]})
        return Outcome(status_code=response.status, excerpt=excerpt, duration_ms=elapsed())
    except urllib3_errors.NewConnectionError as exc:  # a subclass of urllib3's TimeoutError, but no timeout
        return Outcome(error=(_("Could not connect: %(error)s") % {"error": _reason(exc)})[:500],
                       duration_ms=elapsed())
    except (urllib3_errors.TimeoutError, TimeoutError):
        return Outcome(error=_("No answer within %(seconds)s seconds.") % {"seconds": f"{timeout:g}"},
                       duration_ms=elapsed())
    except urllib3_errors.SSLError as exc:
        return Outcome(error=(_("TLS error: %(error)s") % {"error": _reason(exc)})[:500], duration_ms=elapsed())
    except (urllib3_errors.HTTPError, OSError) as exc:
        return Outcome(error=(_("Could not connect: %(error)s") % {"error": _reason(exc)})[:500],
                       duration_ms=elapsed())
    finally:
        pool.close()


def _pool(target: Target, timeout: float):
    """A one-connection pool to the checked address, speaking to the host by its name (``Host``, TLS SNI and the
    certificate check)."""
    limits = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout, total=timeout)
    common = {"port": target.port, "timeout": limits, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(target.addresses[0], cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                           server_hostname=target.hostname, assert_hostname=target.hostname,
                                           **common)
    return urllib3.HTTPConnectionPool(target.addresses[0], **common)


def _read_capped(response, *, deadline: float) -> str:
    """At most ``MAX_RESPONSE_BYTES`` of the body, and nothing after the deadline."""
    chunks, size = [], 0
    while size < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
        try:
            chunk = response.read(min(1024, MAX_RESPONSE_BYTES - size), decode_content=False)
        except (urllib3_errors.HTTPError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace").strip()[:EXCERPT_CHARS]


def _reason(exc: Exception) -> str:
    """The innermost reason of a urllib3 error, without its object reprs."""
    reason = getattr(exc, "reason", None) or exc
    while getattr(reason, "reason", None) and reason.reason is not reason:
        reason = reason.reason
    text = str(reason)
    if "Connection refused" in text or isinstance(reason, ConnectionRefusedError):
        return _("connection refused")
    return text.split(": ", 1)[-1][:300]
