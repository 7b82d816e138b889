"""Who is asking: the client address of a request, and the counters the public pages limit clients with.

**The address.** ``client_address`` is the one place a request's address is read. ``X-Forwarded-For`` is a header
anyone can send, so it is believed only when the direct peer (``REMOTE_ADDR``) is one of ``settings.TRUSTED_PROXIES``
(IP addresses or CIDR networks; empty by default: ``REMOTE_ADDR`` alone). Then the header is read from the right,
skipping the addresses of trusted proxies: the right-most address that is not itself trusted is the client (what the
left-most proxy saw). Whatever a client wrote further left is its own claim and ignored. A malformed entry where
the client should be is not guessed around: the answer is the peer itself.

**The counters.** ``hit`` counts one event on a key for a window and returns the count, ``count`` reads it. The
callers choose the keys, one per account and one per address, scoped to what they protect (an organization's
enrollment page, the cockpit's sign-in), so a limit reached by one key never blocks another. ``limit_key`` hashes
what a key names (an e-mail, a user name) so the cache holds no personal data; ``address_bucket`` counts an IPv6
client by its /64 network, the block one subscriber usually holds, so rotating addresses inside it gains nothing.
"""

import functools
import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return tuple(networks)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _parse(value: str) -> IPAddress | None:
    """An address as a peer or a proxy writes it: ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1`` or
    ``[2001:db8::1]:5678``. IPv4-mapped IPv6 addresses become IPv4. None if it is none of those."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(request) -> str:
    """The address of the client behind ``request``, as a normalized string ("" if the server gave none)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    peer = _parse(remote)
    if peer is None:
        return remote.strip()
    proxies = trusted_proxies()
    if not proxies or not _is_trusted(peer, proxies):
        return str(peer)
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return str(peer)
        if not _is_trusted(address, proxies):
            return str(address)
    # Only trusted proxies (or no header): the farthest one is the client.
    return str(_parse(hops[0])) if hops else str(peer)


def address_bucket(address: str) -> str:
    """What a per-address limit counts: the address itself, or the /64 network of an IPv6 address."""
    parsed = _parse(address or "")
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed) if parsed is not None else (address or "")


def limit_key(prefix: str, *parts) -> str:
    """A cache key for a counter: a readable prefix, then a hash of what it counts (no e-mail in the cache)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{prefix}:{digest}"


def count(key: str) -> int:
    return cache.get(key) or 0


def hit(key: str, window: int) -> int:
    """Count one event on ``key``; the count starts over ``window`` seconds after the first event."""
    cache.add(key, 0, window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def reset(key: str) -> None:
    cache.delete(key)
