"""What a device keeps of a Fleet host (:class:`HostFacts`), and which hosts need their Get-host details.

:func:`host_facts` reads a host as listed (a :class:`~mdm_sync.fleet_wire.ListedHost`, straight from the typed
decoding) or as a :class:`~mdm_sync.fleet_types.FleetHost` (Get host, or a page only the tolerant parser could
read): the same attribute names, the same facts and digest for the same JSON.
"""

import hashlib
from datetime import datetime, timedelta
from typing import NamedTuple

from devices.services import normalize_serial
from mdm_sync.accounts import human_accounts
from mdm_sync.fleet_types import FleetHost
from mdm_sync.fleet_wire import ListedHost
from mdm_sync.health import MDM_PLATFORMS, HealthPolicy, assess, mdm_state

# ``last_seen_at`` moves at every check-in; counting it to the hour keeps an otherwise unchanged
# fleet from rewriting every row every 30 minutes (the stored value is exact when a row is written).
SEEN_RESOLUTION = timedelta(hours=1)
_SEEN_SECONDS = SEEN_RESOLUTION.total_seconds()

# Whether an MDM device whose agent went quiet is still alive, only Get host says (its MDM's own check-in), and its
# listing no longer moves: its details are read again once a round, each host at its own moment of the day (so the
# re-reads spread over a day's runs), and a device whose MDM went quiet too turns "offline" within a day.
DETAILS_ROUND = timedelta(days=1)
_ROUND_SECONDS = int(DETAILS_ROUND.total_seconds())


class HostFacts(NamedTuple):
    """What a device keeps of a Fleet host, and the health derived from it.

    A named tuple, not a dataclass: a big first sync builds, spills to disk and reads back one per host, and a
    tuple is built, pickled and unpickled in C."""

    host_id: int
    uuid: str
    serial: str
    hostname: str
    name: str
    platform: str
    model: str
    os_version: str
    seen_at: datetime | None
    agent_version: str
    osquery_version: str
    mdm_status: str
    mdm_name: str
    device_status: str
    pending_action: str
    emails: tuple[tuple[str, str], ...]
    accounts: tuple[str, ...]  # the people's local accounts (mdm_sync.accounts), listed with ``populate_users``
    mdm_pending: bool
    activated: bool
    issues: tuple[str, ...]
    digest: str


def host_facts(host: FleetHost | ListedHost, *, policy: HealthPolicy, now: datetime, previously_enrolled: bool,
               details: FleetHost | None = None) -> HostFacts:
    """``details`` (Get host) sharpens the health; the digest stays the list view's, so a host whose
    listing has not changed is skipped next time without asking for its details again; but for an MDM device whose
    agent is quiet, the digest also holds its :func:`details_round`, so that its details are read again once a
    round (they are all its health has to go on)."""
    listed = assess(host, policy=policy, now=now, previously_enrolled=previously_enrolled)
    health = assess(details, policy=policy, now=now, previously_enrolled=previously_enrolled) if details else listed
    emails = tuple(sorted({(m.email, m.source) for m in host.device_mapping}))
    platform = host.product_platform
    accounts = human_accounts(host.local_users, platform=platform)
    values = (
        host.id, host.uuid, normalize_serial(host.hardware_serial), host.hostname, host.name[:200],
        platform, host.hardware_model[:200], host.os_version[:100], host.orbit_version or "",
        host.osquery_version[:50], host.mdm_enrollment_status or "", host.mdm_name[:100],
        host.mdm_device_status or "", host.mdm_pending_action or "", emails, listed.activated, listed.issues,
        accounts,
    )
    seen_time = host.seen_time
    seen_bucket = int(seen_time.timestamp() // _SEEN_SECONDS) if seen_time else None
    inputs = (values, seen_bucket)
    if _quiet_mdm_device(host, platform, policy=policy, now=now):  # its health is Get host's, read again each round
        inputs += (details_round(host.id, now),)
    digest = hashlib.sha1(repr(inputs).encode(), usedforsecurity=False).hexdigest()
    return HostFacts(
        host.id, host.uuid[:100], values[2][:100], host.hostname[:255], values[4], platform, values[6], values[7],
        seen_time, values[8][:50], values[9], values[10][:50], values[11], values[12][:20], values[13][:20], emails,
        accounts, mdm_state(host) == "pending", health.activated, health.issues, digest,
    )


def details_round(host_id: int, now: datetime) -> int:
    """The round of :data:`DETAILS_ROUND` that ``now`` falls in for this host: it moves once a round, each host at its
    own offset (a host's round never depends on anything but its id and the time)."""
    return int((now.timestamp() + host_id * 7919 % _ROUND_SECONDS) // _ROUND_SECONDS)


def _quiet_mdm_device(host: FleetHost | ListedHost, platform: str, *, policy: HealthPolicy, now: datetime) -> bool:
    """An MDM device whose agent has been silent past the offline threshold (:func:`needs_details`, first case)."""
    seen_time = host.seen_time
    return (seen_time is not None and now - seen_time > policy.offline_after and platform in MDM_PLATFORMS
            and mdm_state(host) == "on")


def pending_digest(digest: str) -> str:
    """The digest stored while a host still waits for its details: as long as any digest, never equal to it."""
    return hashlib.sha1(f"{digest}:details-pending".encode(), usedforsecurity=False).hexdigest()


def needs_details(host: FleetHost | ListedHost, *, policy: HealthPolicy, now: datetime,
                  previously_enrolled: bool) -> bool:
    """Hosts whose list view leaves the health open, and that Get host settles (FLEET_API.md §3, §8):

    * an MDM device whose agent is quiet: the MDM's own check-in (``last_mdm_checked_in_at``) tells an
      inactive agent on a live device from a device that is offline;
    * a Mac with MDM off, not known to us as enrolled before: ``last_mdm_enrolled_at`` tells a removed
      profile from an enrollment that never finished.
    """
    platform, mdm = host.product_platform, mdm_state(host)
    # Quiet for less than the offline threshold, the list view's "agent inactive" already holds.
    if _quiet_mdm_device(host, platform, policy=policy, now=now):
        return True
    alive = host.seen_time is not None and now - host.seen_time <= policy.agent_inactive_after
    return platform == "macos" and mdm in ("off", "none") and not previously_enrolled and alive
