"""Fleet's host list decoded straight from bytes into typed structs (msgspec), then into :class:`FleetHost`.

The host list is the sync's hot path: a 100,000-host fleet is ~250 MB of JSON. ``json.loads`` builds a dict per
host and :meth:`FleetHost.from_json` picks its fields one by one; here msgspec decodes, in C, only the fields
the product uses (the dozens of others are skipped without being built), and :func:`host_from_wire` applies the
very normalizations of ``from_json`` (stripped strings, ``fleet_id`` falling back to ``team_id``, lower-cased
e-mails, unnamed accounts dropped, timestamps through :func:`parse_time`). The sync does not even need that for a
changed host: :class:`ListedHost` holds only what its facts read, built straight from the struct.

The structs are strict: a body that is not exactly the documented shape (a number where a string belongs, an
object where a timestamp belongs, invalid JSON…) makes :func:`decode_host_page` return None,
and the client parses that page the tolerant way (``json.loads`` + ``from_json``), with the same result or the
same clear error as before. Equivalence with ``from_json`` is tested on the documented hosts
(``tests/mdm_sync/test_fleet_wire.py``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from mdm_sync.fleet_types import (
    FleetHost,
    parse_end_users,
    parse_local_users,
    parse_mappings,
    parse_time,
    product_platform,
)


class _Mdm(msgspec.Struct):
    enrollment_status: str | None = None
    name: str | None = None
    server_url: str | None = None
    connected_to_fleet: bool | None = None
    device_status: str | None = None
    pending_action: str | None = None


class WireHost(msgspec.Struct):
    """A host of Fleet's list (or Get host) as sent, only the fields :class:`FleetHost` keeps."""

    id: int
    uuid: str | None = None
    hostname: str | None = None
    display_name: str | None = None
    computer_name: str | None = None
    platform: str | None = None
    platform_like: str | None = None
    os_version: str | None = None
    hardware_serial: str | None = None
    hardware_model: str | None = None
    osquery_version: str | None = None
    orbit_version: str | None = None
    fleet_desktop_version: str | None = None
    status: str | None = None
    # Timestamps stay text: parse_time accepts exactly what from_json accepts.
    seen_time: str | None = None
    last_enrolled_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    detail_updated_at: str | None = None
    last_mdm_checked_in_at: str | None = None
    last_mdm_enrolled_at: str | None = None
    # Present-but-null and absent differ for the fleet/team fallback.
    fleet_id: int | None | msgspec.UnsetType = msgspec.UNSET
    team_id: int | None = None
    fleet_name: Any = msgspec.UNSET
    team_name: Any = None
    mdm: _Mdm | None = None
    # Lists kept as their JSON text: an unchanged host's are hashed as sent (sync_keys), never built; a changed
    # host's go through the very parsers of from_json. Empty when absent.
    device_mapping: msgspec.Raw = msgspec.Raw(b"")
    end_users: msgspec.Raw = msgspec.Raw(b"")
    users: msgspec.Raw = msgspec.Raw(b"")


class _Page(msgspec.Struct):
    hosts: list[WireHost]


_PAGE = msgspec.json.Decoder(_Page)


class _HostBody(msgspec.Struct):
    host: WireHost


_HOST = msgspec.json.Decoder(_HostBody)


def decode_host_page(body: bytes) -> list[WireHost] | None:
    """The hosts of one page of ``GET /api/v1/fleet/hosts``, or None when the body is not exactly the documented
    shape (the caller then parses it the tolerant way, which also words the errors)."""
    try:
        return _PAGE.decode(body).hosts
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def decode_host(body: bytes) -> WireHost | None:
    """The host of ``GET /api/v1/fleet/hosts/{id}``, or None when the body is not exactly the documented shape."""
    try:
        return _HOST.decode(body).host
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _s(value: str | None) -> str:
    return value.strip() if value else ""


def _list(raw: msgspec.Raw):
    """A list field's JSON text as Python data, as ``json.loads`` gives it (None when absent)."""
    if not raw:
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:  # not expected once the page decoded; json.loads has the last word
        return json.loads(bytes(raw))


def host_from_wire(wire: WireHost) -> FleetHost:
    """The :class:`FleetHost` that ``FleetHost.from_json`` gives for the same JSON (``raw_keys`` apart: empty)."""
    mdm = wire.mdm or _NO_MDM
    fleet_id = wire.team_id if wire.fleet_id is msgspec.UNSET else wire.fleet_id
    fleet_name = wire.team_name if wire.fleet_name is msgspec.UNSET else wire.fleet_name
    return FleetHost(
        id=wire.id,
        uuid=_s(wire.uuid),
        hostname=_s(wire.hostname),
        display_name=_s(wire.display_name),
        computer_name=_s(wire.computer_name),
        platform=_s(wire.platform),
        platform_like=_s(wire.platform_like),
        os_version=_s(wire.os_version),
        hardware_serial=_s(wire.hardware_serial),
        hardware_model=_s(wire.hardware_model),
        osquery_version=_s(wire.osquery_version),
        orbit_version=wire.orbit_version or None,
        fleet_desktop_version=wire.fleet_desktop_version,
        status=_s(wire.status),
        seen_time=parse_time(wire.seen_time),
        last_enrolled_at=parse_time(wire.last_enrolled_at),
        created_at=parse_time(wire.created_at),
        updated_at=parse_time(wire.updated_at),
        detail_updated_at=parse_time(wire.detail_updated_at),
        fleet_id=fleet_id,
        fleet_name=fleet_name if isinstance(fleet_name, str) else None,
        mdm_enrollment_status=mdm.enrollment_status,
        mdm_name=_s(mdm.name),
        mdm_server_url=mdm.server_url,
        mdm_connected_to_fleet=mdm.connected_to_fleet,
        mdm_device_status=mdm.device_status,
        mdm_pending_action=mdm.pending_action,
        device_mapping=parse_mappings(_list(wire.device_mapping)),
        last_mdm_checked_in_at=parse_time(wire.last_mdm_checked_in_at),
        last_mdm_enrolled_at=parse_time(wire.last_mdm_enrolled_at),
        end_users=parse_end_users(_list(wire.end_users)),
        local_users=parse_local_users(_list(wire.users)),
    )


_NO_MDM = _Mdm()


def as_fleet_host(host: WireHost | FleetHost) -> FleetHost:
    """A host of ``FleetClient.iter_listed_pages`` as a :class:`FleetHost`."""
    return host if isinstance(host, FleetHost) else host_from_wire(host)


# --- what the sync's facts read of a listed host, without a FleetHost ---------------------------------------------


class _Mapping(msgspec.Struct):
    """A ``device_mapping`` entry, normalized as :func:`parse_mappings` does (entries without an e-mail are dropped
    by :func:`listed_host`)."""

    email: str = ""
    source: str = ""

    def __post_init__(self):
        self.email = self.email.strip().lower()
        self.source = self.source.strip()


class _User(msgspec.Struct):
    """A ``users`` entry as :func:`mdm_sync.accounts.is_human_account` reads it (it strips what it compares)."""

    username: str = ""
    uid: int | None = None
    type: str = ""
    groupname: str = ""
    shell: str = ""


_MAPPINGS = msgspec.json.Decoder(list[_Mapping])
_USERS = msgspec.json.Decoder(list[_User])


class ListedHost:
    """The fields of a listed host that the sync's facts and health rules read (``sync_facts.host_facts``,
    ``health.assess``), named and normalized as on :class:`FleetHost`, taken straight from its :class:`WireHost`.

    A changed host of a big fleet is built once and read once: a frozen dataclass of every field (seven timestamps
    parsed, a dataclass per account and e-mail) cost ~45 µs a host, this ~10 µs. Lists whose entries are not the
    documented shape go through the very parsers of ``from_json``; the facts are the same either way (tested).
    """

    __slots__ = ("id", "uuid", "hostname", "name", "platform", "platform_like", "product_platform", "os_version",
                 "hardware_serial", "hardware_model", "osquery_version", "orbit_version", "seen_time",
                 "last_mdm_checked_in_at", "last_mdm_enrolled_at", "mdm_enrollment_status", "mdm_name",
                 "mdm_connected_to_fleet", "mdm_device_status", "mdm_pending_action", "device_mapping", "local_users")

    def __init__(self, wire: WireHost):
        mdm = wire.mdm or _NO_MDM
        self.id = wire.id
        self.uuid = _s(wire.uuid)
        self.hostname = hostname = _s(wire.hostname)
        self.name = _s(wire.display_name) or _s(wire.computer_name) or hostname
        self.platform = platform = _s(wire.platform)
        self.platform_like = platform_like = _s(wire.platform_like)
        self.product_platform = product_platform(platform, platform_like)
        self.os_version = _s(wire.os_version)
        self.hardware_serial = _s(wire.hardware_serial)
        self.hardware_model = _s(wire.hardware_model)
        self.osquery_version = _s(wire.osquery_version)
        self.orbit_version = wire.orbit_version or None
        self.seen_time = parse_time(wire.seen_time)
        self.last_mdm_checked_in_at = parse_time(wire.last_mdm_checked_in_at) if wire.last_mdm_checked_in_at else None
        self.last_mdm_enrolled_at = parse_time(wire.last_mdm_enrolled_at) if wire.last_mdm_enrolled_at else None
        self.mdm_enrollment_status = mdm.enrollment_status
        self.mdm_name = _s(mdm.name)
        self.mdm_connected_to_fleet = mdm.connected_to_fleet
        self.mdm_device_status = mdm.device_status
        self.mdm_pending_action = mdm.pending_action
        self.device_mapping = _mappings(wire.device_mapping)
        self.local_users = _users(wire.users)


def _mappings(raw: msgspec.Raw) -> tuple:
    if not raw:
        return ()
    try:
        return tuple(mapping for mapping in _MAPPINGS.decode(raw) if mapping.email)
    except (msgspec.DecodeError, msgspec.ValidationError):  # not a list of e-mail objects: the tolerant parser
        return parse_mappings(_list(raw))


def _users(raw: msgspec.Raw) -> list | tuple:
    if not raw:
        return ()
    try:
        return _USERS.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return parse_local_users(_list(raw))


def listed_host(host: WireHost | FleetHost) -> ListedHost | FleetHost:
    """A host of ``FleetClient.iter_listed_pages`` as the sync's facts read it: a :class:`ListedHost`, or the
    :class:`FleetHost` of a page only the tolerant parser could read."""
    return host if isinstance(host, FleetHost) else ListedHost(host)
