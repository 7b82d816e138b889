"""Fleet's JSON as plain frozen dataclasses holding just the fields the product uses.

Unknown fields are ignored and missing optional ones tolerated; a shape that is not what Fleet sends is a
:class:`~mdm_sync.fleet_errors.FleetBadResponse`. Fleet renamed "teams" to "fleets" in 2026: responses carry
both ``fleet_id`` and ``team_id``; we read ``fleet_id`` and fall back to ``team_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from mdm_sync.fleet_errors import FleetBadResponse

# Fleet's platform strings → the product's platforms (DESIGN §3); anything else is "other".
PLATFORMS = {
    "darwin": "macos",
    "windows": "windows",
    "ios": "ios",
    "ipados": "ipados",
    "android": "android",
    "chrome": "chromeos",
}
LINUX_PLATFORMS = {"linux", "ubuntu", "debian", "rhel", "centos", "fedora", "amzn", "arch", "manjaro", "opensuse",
                   "opensuse-leap", "opensuse-tumbleweed", "sles", "gentoo", "nixos", "pop", "linuxmint", "kali",
                   "rocky", "almalinux", "oracle"}


def product_platform(fleet_platform: str, platform_like: str = "") -> str:
    platform = (fleet_platform or "").strip().lower()
    if platform in PLATFORMS:
        return PLATFORMS[platform]
    if platform in LINUX_PLATFORMS or "linux" in (platform_like or "").lower():
        return "linux"
    return "other"


# Before this or far in the future, a timestamp is noise (Fleet writes 0001-01-01 for "never").
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def parse_time(value) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None for empty, zero, malformed or absurd values."""
    parsed = _parse_any_time(value)
    if parsed is None or parsed < EARLIEST_TIME or parsed > datetime.now(UTC) + timedelta(days=366):
        return None
    return parsed


def _parse_any_time(value) -> datetime | None:
    """An RFC 3339 timestamp (any year), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _opt_str(value) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(value) -> bool | None:
    return value if isinstance(value, bool) else None


# Device-mapping sources (FLEET_API.md §3), the one place that knows them. SSO during enrollment is
# ``mdm_idp_accounts`` in code, ``identity_provider`` in older docs, ``idp`` when set through the API.
SSO_SOURCES = frozenset({"mdm_idp_accounts", "identity_provider", "idp"})
BROWSER_SOURCES = frozenset({"google_chrome_profiles"})


def is_installer_source(source: str) -> bool:
    """Fleet stores the installer's e-mail as ``custom_installer`` and shows any ``custom_*`` as ``custom``."""
    source = (source or "").strip().lower()
    return source == "custom" or source.startswith("custom_")


def is_sso_source(source: str) -> bool:
    return (source or "").strip().lower() in SSO_SOURCES


@dataclass(frozen=True)
class DeviceMapping:
    """An e-mail Fleet ties to a host, and where it came from."""

    email: str
    source: str

    @property
    def is_installer(self) -> bool:
        return is_installer_source(self.source)

    @property
    def is_sso(self) -> bool:
        return is_sso_source(self.source)


@dataclass(frozen=True)
class EndUser:
    """Get host's ``end_users`` entry: the IdP identity, plus other e-mails seen on the device."""

    idp_username: str
    idp_full_name: str
    idp_groups: tuple[str, ...]
    other_emails: tuple[DeviceMapping, ...]


@dataclass(frozen=True)
class LocalUser:
    """An osquery local account (``users``: Get host, or List hosts with ``populate_users=true``)."""

    username: str
    uid: int | None
    type: str
    groupname: str = ""
    shell: str = ""


@dataclass(frozen=True)
class FleetHost:
    """One Fleet host, reduced to what the product uses."""

    id: int
    uuid: str = ""
    hostname: str = ""
    display_name: str = ""
    computer_name: str = ""
    platform: str = ""  # Fleet's own string (darwin, ubuntu…); see ``product_platform``
    platform_like: str = ""
    os_version: str = ""
    hardware_serial: str = ""
    hardware_model: str = ""
    osquery_version: str = ""
    orbit_version: str | None = None
    fleet_desktop_version: str | None = None
    status: str = ""
    seen_time: datetime | None = None
    last_enrolled_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    detail_updated_at: datetime | None = None
    fleet_id: int | None = None
    fleet_name: str | None = None
    mdm_enrollment_status: str | None = None
    mdm_name: str = ""
    mdm_server_url: str | None = None
    mdm_connected_to_fleet: bool | None = None
    mdm_device_status: str | None = None
    mdm_pending_action: str | None = None
    device_mapping: tuple[DeviceMapping, ...] = ()
    # Get host only:
    last_mdm_checked_in_at: datetime | None = None
    last_mdm_enrolled_at: datetime | None = None
    end_users: tuple[EndUser, ...] = ()
    local_users: tuple[LocalUser, ...] = ()
    raw_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @cached_property  # read by every health rule: computed once a host (a frozen dataclass keeps a __dict__)
    def product_platform(self) -> str:
        return product_platform(self.platform, self.platform_like)

    @property
    def name(self) -> str:
        return self.display_name or self.computer_name or self.hostname

    @classmethod
    def from_json(cls, data) -> FleetHost:
        if not isinstance(data, dict):
            raise FleetBadResponse(f"Fleet sent a host that is not an object: {str(data)[:80]!r}")
        host_id = _opt_int(data.get("id"))
        if host_id is None:
            raise FleetBadResponse(f"Fleet sent a host without a numeric id: {str(data)[:80]!r}")
        mdm = data.get("mdm") if isinstance(data.get("mdm"), dict) else {}
        fleet_id = _opt_int(data.get("fleet_id")) if "fleet_id" in data else _opt_int(data.get("team_id"))
        fleet_name = data.get("fleet_name") if "fleet_name" in data else data.get("team_name")
        return cls(
            id=host_id,
            uuid=_str(data.get("uuid")),
            hostname=_str(data.get("hostname")),
            display_name=_str(data.get("display_name")),
            computer_name=_str(data.get("computer_name")),
            platform=_str(data.get("platform")),
            platform_like=_str(data.get("platform_like")),
            os_version=_str(data.get("os_version")),
            hardware_serial=_str(data.get("hardware_serial")),
            hardware_model=_str(data.get("hardware_model")),
            osquery_version=_str(data.get("osquery_version")),
            orbit_version=_opt_str(data.get("orbit_version")) or None,
            fleet_desktop_version=_opt_str(data.get("fleet_desktop_version")),
            status=_str(data.get("status")),
            seen_time=parse_time(data.get("seen_time")),
            last_enrolled_at=parse_time(data.get("last_enrolled_at")),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            detail_updated_at=parse_time(data.get("detail_updated_at")),
            fleet_id=fleet_id,
            fleet_name=_opt_str(fleet_name),
            mdm_enrollment_status=_opt_str(mdm.get("enrollment_status")),
            mdm_name=_str(mdm.get("name")),
            mdm_server_url=_opt_str(mdm.get("server_url")),
            mdm_connected_to_fleet=_opt_bool(mdm.get("connected_to_fleet")),
            mdm_device_status=_opt_str(mdm.get("device_status")),
            mdm_pending_action=_opt_str(mdm.get("pending_action")),
            device_mapping=parse_mappings(data.get("device_mapping")),
            last_mdm_checked_in_at=parse_time(data.get("last_mdm_checked_in_at")),
            last_mdm_enrolled_at=parse_time(data.get("last_mdm_enrolled_at")),
            end_users=parse_end_users(data.get("end_users")),
            local_users=parse_local_users(data.get("users")),
            raw_keys=frozenset(data),
        )


def parse_mappings(items) -> tuple[DeviceMapping, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        DeviceMapping(email=_str(item.get("email")).lower(), source=_str(item.get("source")))
        for item in items
        if isinstance(item, dict) and _str(item.get("email"))
    )


def parse_local_users(items) -> tuple[LocalUser, ...]:
    """A host's ``users`` (unnamed entries dropped). Written out: a fleet lists ~5 a host, 500,000 a sync."""
    users = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        username = item.get("username")
        username = username.strip() if isinstance(username, str) else ""
        if not username:
            continue
        kind, groupname, shell = item.get("type"), item.get("groupname"), item.get("shell")
        users.append(LocalUser(
            username=username, uid=_opt_int(item.get("uid")), type=kind.strip() if isinstance(kind, str) else "",
            groupname=groupname.strip() if isinstance(groupname, str) else "",
            shell=shell.strip() if isinstance(shell, str) else "",
        ))
    return tuple(users)


def parse_end_users(items) -> tuple[EndUser, ...]:
    """Get host's ``end_users``."""
    return tuple(_end_user(item) for item in items or [] if isinstance(item, dict))


def _end_user(item: dict) -> EndUser:
    groups = item.get("idp_groups") if isinstance(item.get("idp_groups"), list) else []
    return EndUser(
        idp_username=_str(item.get("idp_username")).lower(),
        idp_full_name=_str(item.get("idp_full_name")),
        idp_groups=tuple(str(group) for group in groups),
        other_emails=parse_mappings(item.get("other_emails")),
    )


@dataclass(frozen=True)
class ApnsCertificate:
    """Fleet's Apple Push Notification service certificate (``GET /api/v1/fleet/apns``).

    Once ``renew_date`` (the certificate's NotAfter) has passed, no Apple device with MDM on
    receives a command until an admin renews it in Fleet.
    """

    renew_date: datetime | None
    common_name: str = ""
    serial_number: str = ""
    issuer: str = ""

    def expired(self, now: datetime) -> bool:
        return self.renew_date is not None and self.renew_date <= now

    @classmethod
    def from_json(cls, data) -> ApnsCertificate:
        if not isinstance(data, dict):
            raise FleetBadResponse(f"Fleet's APNs certificate is not an object: {str(data)[:80]!r}")
        # An absurd or missing date is unknown, not "expired": parse_time only refuses dates before
        # 2000 or more than a year ahead, and an APNs certificate lasts a year.
        raw = data.get("renew_date")
        renew_date = _parse_any_time(raw)
        if raw and renew_date is None:
            raise FleetBadResponse(f"Fleet's APNs renew date is not a date: {str(raw)[:40]!r}")
        return cls(
            renew_date=renew_date, common_name=_str(data.get("common_name")),
            serial_number=_str(data.get("serial_number")), issuer=_str(data.get("issuer")),
        )


@dataclass(frozen=True)
class MdmActionResult:
    """What Fleet answers to wipe and lock: the command is queued until the host checks in."""

    device_status: str
    pending_action: str
    unlock_pin: str = ""

    @classmethod
    def from_json(cls, data) -> MdmActionResult:
        if not isinstance(data, dict):
            data = {}
        return cls(device_status=_str(data.get("device_status")), pending_action=_str(data.get("pending_action")),
                   unlock_pin=_str(data.get("unlock_pin")))


@dataclass(frozen=True)
class FleetLabel:
    """A Fleet label (``GET``/``POST``/``PATCH /api/v1/fleet/labels…``): manual ones list their hosts by id."""

    id: int
    name: str
    description: str = ""
    label_type: str = ""  # "regular" or "builtin"
    membership_type: str = ""  # "manual" or "dynamic" (query-based)
    host_ids: tuple[int, ...] = ()
    count: int | None = None

    @property
    def is_manual(self) -> bool:
        return self.membership_type == "manual" and self.label_type != "builtin"

    @classmethod
    def from_json(cls, data) -> FleetLabel:
        if not isinstance(data, dict) or _opt_int(data.get("id")) is None:
            raise FleetBadResponse(f"Fleet sent a label without a numeric id: {str(data)[:80]!r}")
        host_ids = data.get("host_ids") if isinstance(data.get("host_ids"), list) else []
        return cls(
            id=data["id"], name=_str(data.get("name")), description=_str(data.get("description")),
            label_type=_str(data.get("label_type")), membership_type=_str(data.get("label_membership_type")),
            host_ids=tuple(sorted(i for i in host_ids if _opt_int(i) is not None)), count=_opt_int(data.get("count")),
        )


def parse_count(data) -> int:
    """Fleet's host count (``{"count": n}``)."""
    count = _opt_int(data.get("count")) if isinstance(data, dict) else None
    if count is None or count < 0:
        raise FleetBadResponse(f"Fleet's host count is not a number: {str(data)[:80]!r}")
    return count
