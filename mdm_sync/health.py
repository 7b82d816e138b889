"""Enrollment health: from a Fleet host's facts to activation and the enrollment issues of DESIGN §3.

A pure function of the host, the organization's thresholds and the time, so every rule is tested
without a server or a database; the sync calls it for each new or changed host.

Two clocks matter and Fleet keeps them apart (FLEET_API.md §8): ``seen_time`` is the agent's last
contact, ``last_mdm_checked_in_at`` (Get host only) the MDM's. A device whose agent went quiet but
whose MDM still checks in is alive with an inactive agent, not offline.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.models import DESKTOP_PLATFORMS, EnrollmentIssue
from mdm_sync.fleet_types import FleetHost

# Platforms where Fleet runs an MDM (desktops, DESKTOP_PLATFORMS, also run the fleetd agent).
MDM_PLATFORMS = {"macos", "windows", "ios", "ipados", "android"}
APPLE_PLATFORMS = {"macos", "ios", "ipados"}
ISSUE_ORDER = tuple(EnrollmentIssue.values)  # ``.values`` builds a new list at each call


@dataclass(frozen=True)
class HealthPolicy:
    """The organization's thresholds (``Organization`` settings) and facts about its Fleet."""

    offline_after: timedelta = timedelta(days=7)
    agent_inactive_after: timedelta = timedelta(hours=24)
    apns_certificate_expired: bool = False

    @classmethod
    def for_organization(cls, organization, *, apns_certificate_expired: bool = False) -> "HealthPolicy":
        return cls(
            offline_after=timedelta(days=organization.offline_threshold_days),
            agent_inactive_after=timedelta(hours=organization.agent_inactive_threshold_hours),
            apns_certificate_expired=apns_certificate_expired,
        )


@dataclass(frozen=True)
class Assessment:
    activated: bool  # enrolled in the MDM (or, where there is none, the agent has reported)
    issues: tuple[str, ...]  # EnrollmentIssue codes, in the enum's order


def mdm_state(host: FleetHost) -> str:
    """``on``, ``pending`` (assigned in Apple Business Manager, not enrolled), ``off``, or ``none`` (no MDM)."""
    status = (host.mdm_enrollment_status or "").strip().lower()
    if status.startswith("on"):
        return "on"
    if status == "pending":
        return "pending"
    if status == "off":
        return "off"
    return "none"


def _age(now: datetime, moment: datetime | None) -> timedelta | None:
    return None if moment is None else max(now - moment, timedelta(0))


def assess(host: FleetHost, *, policy: HealthPolicy, now: datetime, previously_enrolled: bool = False) -> Assessment:
    """Activation and issues of one host.

    ``previously_enrolled``: the device had been activated before (our own record, or Fleet's
    ``last_mdm_enrolled_at``); an MDM found off on such a Mac is a removed profile, not an
    enrollment that never finished.
    """
    platform = host.product_platform
    mdm = mdm_state(host)
    has_agent = host.orbit_version is not None
    agent_age = _age(now, host.seen_time)
    mdm_age = _age(now, host.last_mdm_checked_in_at)
    previously_enrolled = previously_enrolled or host.last_mdm_enrolled_at is not None
    issues: set[str] = set()

    if mdm == "pending":  # Apple Business Manager placeholder: awaiting activation, nothing is wrong yet
        return Assessment(activated=False, issues=())

    other_mdm = bool(host.mdm_name) and host.mdm_name.strip().lower() != "fleet" and (
        host.mdm_connected_to_fleet is not True
    )
    if other_mdm:
        issues.add(EnrollmentIssue.OTHER_MDM)
    if platform in MDM_PLATFORMS:
        activated = mdm == "on" and not other_mdm
    else:  # Linux, ChromeOS, others: no MDM; the agent reporting is the enrollment
        activated = host.seen_time is not None and (has_agent or bool(host.osquery_version))

    agent_silent_for_long = agent_age is None or agent_age > policy.offline_after
    mdm_silent_for_long = mdm_age is None or mdm_age > policy.offline_after
    offline = host.seen_time is not None and agent_silent_for_long and mdm_silent_for_long
    if offline:
        issues.add(EnrollmentIssue.OFFLINE)
    elif has_agent and agent_age is not None and agent_age > policy.agent_inactive_after:
        issues.add(EnrollmentIssue.AGENT_INACTIVE)

    agent_alive = has_agent and agent_age is not None and agent_age <= policy.agent_inactive_after
    if platform in DESKTOP_PLATFORMS and mdm == "on" and not has_agent:
        issues.add(EnrollmentIssue.AGENT_MISSING)
    mdm_missing = mdm in ("off", "none") and agent_alive and not other_mdm
    if platform == "macos" and mdm_missing:
        issues.add(
            EnrollmentIssue.MDM_PROFILE_MISSING if previously_enrolled else EnrollmentIssue.ENROLLMENT_INCOMPLETE
        )
    elif platform == "windows" and mdm_missing:  # agent in, MDM never finished or dropped: resume enrollment
        issues.add(EnrollmentIssue.ENROLLMENT_INCOMPLETE)

    if policy.apns_certificate_expired and platform in APPLE_PLATFORMS and mdm == "on":
        issues.add(EnrollmentIssue.APNS_CERTIFICATE_EXPIRED)

    ordered = tuple(code for code in ISSUE_ORDER if code in issues)
    return Assessment(activated=activated, issues=ordered)
