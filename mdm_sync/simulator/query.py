"""The list and count parameters of ``GET /hosts``, validated with Fleet's rules, and its filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mdm_sync.simulator.records import parse_time


class BadRequest(Exception):
    """A request Fleet would refuse with 400 (the message becomes the error's reason)."""


STATUS_FILTERS = ("new", "online", "offline", "mia", "missing")
ENROLLMENT_FILTERS = {"manual": ("On (manual)",), "automatic": ("On (automatic)",), "pending": ("Pending",),
                       "unenrolled": ("Off",), "personal": ("On (personal)", "On (manual - personal)"),
                       "enrolled": ("On (manual)", "On (automatic)", "On (personal)", "On (manual - personal)")}


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Parsed list/count parameters, validated with Fleet's rules (server/service/transport.go)."""

    page: int | None = None
    per_page: int | None = None
    order_key: str | None = None
    descending: bool = False
    after: str | None = None
    device_mapping: bool = False
    include_device_status: bool = False
    populate_users: bool = False
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def limit(self) -> int | None:
        if self.per_page is not None:
            return self.per_page
        return 20 if self.page is not None else None  # page alone: 20; neither: every host

    @property
    def fault_page(self) -> int:
        return self.page or 0

    @classmethod
    def parse(cls, params: dict[str, list[str]]) -> ListQuery:
        one = {key: values[-1] for key, values in params.items()}
        page, per_page = _uint(one, "page"), _uint(one, "per_page", positive=True)
        order_key = one.get("order_key") or None
        direction = one.get("order_direction")
        if direction is not None and direction not in ("asc", "desc"):
            raise BadRequest("invalid order_direction: must be asc or desc")
        if (direction or one.get("after")) and not order_key:
            raise BadRequest("order_key must be specified with order_direction or after")
        if "fleet_id" in one and "team_id" in one:
            raise BadRequest("Only one of fleet_id or team_id may be specified")
        filters = []
        for key in ("query", "status", "fleet_id", "team_id", "mdm_enrollment_status"):
            if one.get(key):
                filters.append(("fleet_id" if key == "team_id" else key, one[key]))
        if one.get("status") and one["status"] not in STATUS_FILTERS:
            raise BadRequest(f"invalid status: {one['status']}")
        if one.get("mdm_enrollment_status") and one["mdm_enrollment_status"] not in ENROLLMENT_FILTERS:
            raise BadRequest(f"invalid mdm_enrollment_status: {one['mdm_enrollment_status']}")
        return cls(page=page, per_page=per_page, order_key=order_key.removeprefix("h.") if order_key else None,
                   descending=direction == "desc", after=one.get("after") or None,
                   device_mapping=_bool(one, "device_mapping"),
                   include_device_status=_bool(one, "include_device_status"),
                   populate_users=_bool(one, "populate_users"), filters=tuple(filters))


def _uint(params: dict[str, str], key: str, *, positive: bool = False) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"invalid {key}: {raw!r} is not an integer") from None
    if value < 0 or (positive and value == 0):
        raise BadRequest(f"invalid {key}: must be {'greater than 0' if positive else 'zero or more'}")
    return value


def _bool(params: dict[str, str], key: str) -> bool:
    raw = params.get(key)
    if raw is None or raw == "":
        return False
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise BadRequest(f"invalid {key}: {raw!r} is not a boolean")

def host_matches(host: dict, filters: tuple[tuple[str, str], ...], now: datetime) -> bool:
    """Fleet's list filters that the cockpit may use; everything else is accepted and ignored."""
    for key, value in filters:
        if key == "query":
            needle = value.lower()
            if "@" in needle:
                if needle not in {m["email"].lower() for m in host["device_mapping"]}:
                    return False
            elif not any(needle in (host[f] or "").lower()
                         for f in ("hostname", "hardware_serial", "uuid", "primary_ip")):
                return False
        elif key == "fleet_id":
            wanted = None if value == "0" else int(value) if value.isdigit() else -1
            if host["fleet_id"] != wanted:
                return False
        elif key == "mdm_enrollment_status":
            if host["mdm"]["enrollment_status"] not in ENROLLMENT_FILTERS[value]:
                return False
        elif key == "status" and not _status_matches(host, value, now):
            return False
    return True


def _status_matches(host: dict, status: str, now: datetime) -> bool:
    if status in ("online", "offline"):
        return host["status"] == status
    if status == "new":
        return now - parse_time(host["created_at"]) < timedelta(days=1)
    return now - parse_time(host["seen_time"]) > timedelta(days=30)  # mia / missing


