"""The Fleet REST API client: the only code that speaks HTTP to Fleet.

It turns Fleet's JSON into plain frozen dataclasses holding just the fields the product uses:
unknown fields are ignored, missing optional ones tolerated, and a body that is not what Fleet
sends (HTML from a proxy, truncated or invalid JSON, a wrong shape) is a clear
:class:`FleetBadResponse`. Transient failures (429 honouring ``Retry-After``, 5xx, connection
resets) are retried with exponential backoff by urllib3 before anything is raised.

Fleet renamed "teams" to "fleets" in 2026: responses carry both ``fleet_id`` and ``team_id``; we
read ``fleet_id`` and fall back to ``team_id``, and never send both spellings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 500
MAX_PAGES = 100_000  # 50 million hosts at 500 a page: past that the server is not paginating


# --- errors ----------------------------------------------------------------------------------


class FleetError(Exception):
    """A Fleet call failed; ``str()`` is the sentence shown to the admin (never the token)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class FleetAuthError(FleetError):
    """401/403: the API token is wrong, expired, or lacks the permission."""


class FleetNotFound(FleetError):
    """404: the host (or the endpoint) does not exist."""


class FleetUnavailable(FleetError):
    """Fleet could not be reached or kept failing: DNS, TLS, timeouts, 5xx and 429 after retries."""


class FleetBadResponse(FleetError):
    """Fleet answered, but not with what its API documents (HTML, broken JSON, a wrong shape)."""


def _fleet_error_text(response: requests.Response) -> str:
    """Fleet's error JSON (``message`` plus ``errors[{name, reason}]``) as one sentence."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    message = str(body.get("message") or f"HTTP {response.status_code}")
    reasons = [
        f"{item.get('name')}: {item.get('reason')}" if item.get("name") not in (None, "", "base") else
        str(item.get("reason"))
        for item in body.get("errors") or []
        if isinstance(item, dict) and item.get("reason")
    ]
    reasons = [reason for reason in reasons if reason != message]
    return f"{message} ({'; '.join(reasons)})" if reasons else message


# --- data ------------------------------------------------------------------------------------

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
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def parse_time(value) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None for empty, zero, malformed or absurd values."""
    parsed = _parse_any_time(value)
    if parsed is None or parsed < _EARLIEST or parsed > datetime.now(UTC) + timedelta(days=366):
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

    @property
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
            device_mapping=_mappings(data.get("device_mapping")),
            last_mdm_checked_in_at=parse_time(data.get("last_mdm_checked_in_at")),
            last_mdm_enrolled_at=parse_time(data.get("last_mdm_enrolled_at")),
            end_users=tuple(_end_user(item) for item in data.get("end_users") or [] if isinstance(item, dict)),
            local_users=tuple(
                LocalUser(
                    username=_str(item.get("username")), uid=_opt_int(item.get("uid")), type=_str(item.get("type")),
                    groupname=_str(item.get("groupname")), shell=_str(item.get("shell")),
                )
                for item in data.get("users") or []
                if isinstance(item, dict) and _str(item.get("username"))
            ),
            raw_keys=frozenset(data),
        )


def _mappings(items) -> tuple[DeviceMapping, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        DeviceMapping(email=_str(item.get("email")).lower(), source=_str(item.get("source")))
        for item in items
        if isinstance(item, dict) and _str(item.get("email"))
    )


def _end_user(item: dict) -> EndUser:
    groups = item.get("idp_groups") if isinstance(item.get("idp_groups"), list) else []
    return EndUser(
        idp_username=_str(item.get("idp_username")).lower(),
        idp_full_name=_str(item.get("idp_full_name")),
        idp_groups=tuple(str(group) for group in groups),
        other_emails=_mappings(item.get("other_emails")),
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


@dataclass(frozen=True)
class MdmActionResult:
    """What Fleet answers to wipe and lock: the command is queued until the host checks in."""

    device_status: str
    pending_action: str
    unlock_pin: str = ""


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


# --- client ----------------------------------------------------------------------------------


class _CappedRetry(Retry):
    """urllib3's Retry, but a ``Retry-After`` longer than ``RETRY_AFTER_CAP`` is cut to it:
    a misconfigured server must not park a sync worker for an hour."""

    RETRY_AFTER_CAP = 60.0

    def get_retry_after(self, response):
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.RETRY_AFTER_CAP)


class FleetClient:
    """A Fleet server reached with an API-only user's token.

    ``retries`` counts attempts after the first on 429/5xx and connection failures (GET, DELETE;
    never a POST, whose side effect may already have happened). Waits grow as
    ``backoff * 2**n`` seconds, or follow ``Retry-After``.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, connect_timeout: float = 5.0,
                 retries: int = 4, backoff: float = 0.5, verify: bool | str = True):
        parts = urlsplit((base_url or "").strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FleetError(f"“{base_url}” is not a Fleet URL: use https://fleet.example.com")
        if not token:
            raise FleetAuthError("No Fleet API token is configured.")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.timeout = (connect_timeout, timeout)
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                     "User-Agent": "fleet-cockpit/1.0"})
        retry = _CappedRetry(
            total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "DELETE", "HEAD"}),
            respect_retry_after_header=True, raise_on_status=False,
        )
        # Room for a listing plus the sync's concurrent Get-host requests (mdm_sync.sync.DETAIL_THREADS),
        # so that no kept-alive connection is discarded and reopened.
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport --

    def _request(self, method: str, path: str, *, params=None, body=None, expect_json: bool = True):
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, params=params, json=body, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            raise FleetUnavailable(
                f"TLS error talking to {self.base_url}: check its certificate ({_short(exc)})."
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise FleetUnavailable(
                f"{self.base_url} did not accept a connection within {self.timeout[0]:g} s."
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise FleetUnavailable(f"Fleet did not answer within {self.timeout[1]:g} s ({method} {path}).") from exc
        except requests.exceptions.RetryError as exc:
            raise FleetUnavailable(f"Fleet kept failing on {method} {path}: {_short(exc)}") from exc
        except requests.exceptions.ConnectionError as exc:
            # With retries configured, urllib3 hands over timeouts wrapped in MaxRetryError.
            cause = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(cause, urllib3_exceptions.ReadTimeoutError):
                raise FleetUnavailable(f"Fleet did not answer within {self.timeout[1]:g} s ({method} {path}).") from exc
            # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError in urllib3: test it first.
            if isinstance(cause, urllib3_exceptions.ConnectTimeoutError) and not isinstance(
                cause, urllib3_exceptions.NewConnectionError
            ):
                raise FleetUnavailable(
                    f"{self.base_url} did not accept a connection within {self.timeout[0]:g} s."
                ) from exc
            raise FleetUnavailable(f"Cannot reach {self.base_url}: {_connection_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FleetUnavailable(f"{method} {path} failed: {_short(exc)}") from exc
        return self._check(response, method, path, expect_json)

    def _check(self, response: requests.Response, method: str, path: str, expect_json: bool):
        status = response.status_code
        if status in (401, 403):
            raise FleetAuthError(f"Fleet refused the API token: {_fleet_error_text(response)}", status=status)
        if status == 404:
            raise FleetNotFound(f"Not found in Fleet: {_fleet_error_text(response)}", status=status)
        if status == 429 or status >= 500:
            raise FleetUnavailable(
                f"Fleet kept failing on {method} {path}: {_fleet_error_text(response)}", status=status
            )
        if status >= 400:
            raise FleetError(f"Fleet refused {method} {path}: {_fleet_error_text(response)}", status=status)
        if not expect_json or status == 204 or not response.content:
            return None
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise FleetBadResponse(
                f"Fleet answered {method} {path} with an HTML page, not JSON: is the URL a login page or a proxy?",
                status=status,
            )
        try:
            return json.loads(response.content)
        except json.JSONDecodeError as exc:
            raise FleetBadResponse(
                f"Fleet answered {method} {path} with invalid JSON ({exc.msg} at byte {exc.pos}).", status=status
            ) from exc
        except UnicodeDecodeError as exc:
            raise FleetBadResponse(
                f"Fleet answered {method} {path} with invalid JSON (not UTF-8 at byte {exc.start}).", status=status
            ) from exc

    # -- hosts --

    def count_hosts(self) -> int:
        data = self._request("GET", "/api/v1/fleet/hosts/count")
        count = _opt_int(data.get("count")) if isinstance(data, dict) else None
        if count is None or count < 0:
            raise FleetBadResponse(f"Fleet's host count is not a number: {str(data)[:80]!r}")
        return count

    def iter_host_pages(self, *, per_page: int = DEFAULT_PER_PAGE, device_mapping: bool = True,
                        users: bool = True) -> Iterator[list[FleetHost]]:
        """Every host, a page at a time, in ascending id order; ends on the first short page.

        Pages are asked for explicitly (omitting both ``page`` and ``per_page`` makes Fleet send
        the whole fleet in one body). Hosts enrolled or deleted meanwhile can shift a page by a few
        hosts; the caller cross-checks the total with :meth:`count_hosts`.
        """
        if per_page <= 0:
            raise ValueError("per_page must be positive")
        params = {"per_page": per_page, "order_key": "id", "order_direction": "asc",
                  "include_device_status": "true"}
        if device_mapping:
            params["device_mapping"] = "true"
        if users:  # the hosts' local accounts (``users``), which the list view leaves out otherwise
            params["populate_users"] = "true"
        last_id = 0
        for page in range(MAX_PAGES):
            data = self._request("GET", "/api/v1/fleet/hosts", params=params | {"page": page})
            items = data.get("hosts") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise FleetBadResponse(f"Fleet's host list on page {page} has no “hosts” array.")
            hosts = [FleetHost.from_json(item) for item in items]
            if hosts and hosts[0].id <= last_id and page > 0:
                if all(host.id <= last_id for host in hosts):
                    raise FleetBadResponse(
                        f"Fleet sent page {page} again (ids up to {last_id} already seen): it is not paginating."
                    )
                hosts = [host for host in hosts if host.id > last_id]  # shifted by a deletion: drop repeats
            if len(items) > per_page:
                raise FleetBadResponse(f"Fleet sent {len(items)} hosts for a page of {per_page}.")
            if hosts:
                last_id = hosts[-1].id
            yield hosts
            if len(items) < per_page:
                return
        raise FleetBadResponse(f"Fleet's host list did not end after {MAX_PAGES} pages.")

    def get_host(self, host_id: int) -> FleetHost:
        """One host with the Get-host extras (``end_users``, local users, ``last_mdm_checked_in_at``)."""
        data = self._request("GET", f"/api/v1/fleet/hosts/{int(host_id)}")
        if not isinstance(data, dict) or "host" not in data:
            raise FleetBadResponse(f"Fleet's answer for host {host_id} has no “host” object.")
        return FleetHost.from_json(data["host"])

    def get_apns(self) -> ApnsCertificate | None:
        """The Apple push certificate, or None when Fleet has none (Apple MDM not set up).

        Fleet answers 404 when no APNs certificate is configured (newer versions 400).
        """
        try:
            data = self._request("GET", "/api/v1/fleet/apns")
        except FleetNotFound:
            return None
        except FleetError as exc:
            if exc.status == 400:
                return None
            raise
        if not isinstance(data, dict):
            raise FleetBadResponse(f"Fleet's APNs certificate is not an object: {str(data)[:80]!r}")
        # An absurd or missing date is unknown, not "expired": parse_time only refuses dates before
        # 2000 or more than a year ahead, and an APNs certificate lasts a year.
        raw = data.get("renew_date")
        renew_date = _parse_any_time(raw)
        if raw and renew_date is None:
            raise FleetBadResponse(f"Fleet's APNs renew date is not a date: {str(raw)[:40]!r}")
        return ApnsCertificate(
            renew_date=renew_date, common_name=_str(data.get("common_name")),
            serial_number=_str(data.get("serial_number")), issuer=_str(data.get("issuer")),
        )

    def get_device_mapping(self, host_id: int) -> tuple[DeviceMapping, ...]:
        data = self._request("GET", f"/api/v1/fleet/hosts/{int(host_id)}/device_mapping")
        if not isinstance(data, dict):
            raise FleetBadResponse(f"Fleet's device mapping for host {host_id} is not an object.")
        return _mappings(data.get("device_mapping"))

    def delete_host(self, host_id: int) -> None:
        """Remove the host from Fleet (it re-enrolls under a new id if it still holds an enroll secret)."""
        self._request("DELETE", f"/api/v1/fleet/hosts/{int(host_id)}", expect_json=False)

    def turn_off_mdm(self, host_id: int) -> None:
        """Unenroll from MDM (macOS, iOS, iPadOS, Android)."""
        self._request("DELETE", f"/api/v1/fleet/hosts/{int(host_id)}/mdm", expect_json=False)

    def wipe(self, host_id: int, *, windows_wipe_type: str | None = None) -> MdmActionResult:
        """Queue an erase; Fleet reports ``device_status`` ``wiped`` once the host has done it."""
        body = {"windows": {"wipe_type": windows_wipe_type}} if windows_wipe_type else None
        return self._action(f"/api/v1/fleet/hosts/{int(host_id)}/wipe", body)

    def lock(self, host_id: int) -> MdmActionResult:
        return self._action(f"/api/v1/fleet/hosts/{int(host_id)}/lock", None)

    def _action(self, path: str, body) -> MdmActionResult:
        data = self._request("POST", path, body=body)
        if not isinstance(data, dict):
            data = {}
        return MdmActionResult(
            device_status=_str(data.get("device_status")), pending_action=_str(data.get("pending_action")),
            unlock_pin=_str(data.get("unlock_pin")),
        )

    # -- labels (the cockpit's groups kept as manual labels: mdm_sync.labels) --

    def list_labels(self) -> list[FleetLabel]:
        """Every label, builtin and dynamic ones included (Fleet does not page this list unless asked)."""
        data = self._request("GET", "/api/v1/fleet/labels")
        items = data.get("labels") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise FleetBadResponse("Fleet's label list has no “labels” array.")
        return [FleetLabel.from_json(item) for item in items]

    def get_label(self, label_id: int) -> FleetLabel:
        return self._label("GET", f"/api/v1/fleet/labels/{int(label_id)}", None)

    def create_manual_label(self, *, name: str, host_ids, description: str = "") -> FleetLabel:
        """A manual label holding exactly these hosts (Fleet ids). POST is not retried: a lost answer may hide a
        created label, which the caller finds again by name (409 on the second try)."""
        body = {"name": name, "description": description, "host_ids": sorted(int(i) for i in host_ids)}
        return self._label("POST", "/api/v1/fleet/labels", body)

    def update_label(self, label_id: int, *, name: str | None = None, description: str | None = None,
                     host_ids=None) -> FleetLabel:
        """Rename a label and/or replace a manual label's hosts (``host_ids=[]`` empties it; None leaves them)."""
        body = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if host_ids is not None:
            body["host_ids"] = sorted(int(i) for i in host_ids)
        if not body:
            raise ValueError("nothing to change")
        return self._label("PATCH", f"/api/v1/fleet/labels/{int(label_id)}", body)

    def delete_label(self, label_id: int) -> None:
        """Delete by id (the by-name route cannot take every name, e.g. one with a slash)."""
        self._request("DELETE", f"/api/v1/fleet/labels/id/{int(label_id)}", expect_json=False)

    def _label(self, method: str, path: str, body) -> FleetLabel:
        data = self._request(method, path, body=body)
        if not isinstance(data, dict) or not isinstance(data.get("label"), dict):
            raise FleetBadResponse(f"Fleet's answer to {method} {path} has no “label” object.")
        return FleetLabel.from_json(data["label"])


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "NameResolution" in text or "Name or service not known" in text or "nodename nor servname" in text:
        return "its host name does not resolve (DNS)."
    if "Connection refused" in text:
        return "the connection was refused (nothing listens on that port?)."
    return _short(exc)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "…"
