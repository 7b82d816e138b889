"""Fleet simulator: a real HTTP server on loopback that speaks FleetDM's REST API for hosts.

Why it exists: the cockpit's sync must be exercised against Fleet's real rules, not against hand-made
JSON. Fleet pages are 0-based, `page` alone means 20 per page, no paging parameters means *every*
host, there is no total in the body, hosts appear or vanish between two pages, and servers fail in
many ways (5xx, 429 with Retry-After, slow pages, cut-off bodies, a proxy's HTML login page). Tests,
the demo (`manage.py fleet_simulator`) and benchmarks all talk to this server over HTTP, exactly as
the client would talk to Fleet. Field names and rules follow Fleet's REST API (list hosts, count,
get host, device mapping, delete, turn off MDM, lock/unlock/wipe); nothing is read from disk.

Scale: host *i* is computed on demand from ``(seed, i)``; the simulator stores only what changed
(deletions, additions, re-enrollments, field overrides, pending lock/wipe). A 100,000-host simulator
costs a few kilobytes until asked, and a page costs only its own hosts.

Situations: every block of 100 consecutive ids holds exactly ``SITUATION_SHARES[name]`` hosts of each
situation, shuffled per block with the seed, so 200 hosts hold exactly twice the shares. A host's
situation is ``FleetSimulator.situation(host_id)``; see ``SITUATIONS`` for what each one looks like.

People: host identities belong to employees ``1..employee_count`` (``employee_count_for(hosts)``,
80 % of the initial host count); host identity *i* belongs to employee ``1 + (i - 1) % employee_count``.
``employee_name(k)`` / ``employee_email(k, domain)`` are pure functions of *k*, so demo seeding can
create the matching employees without talking to the simulator.

Times: relative to ``now``. With a fixed ``now`` everything is deterministic. With ``now=None`` the
real clock is used for live contact times (hosts that are "seen recently" stay recent in a long demo)
and the construction time anchors historical ones (created_at, when a stale host went silent).

Lock and wipe settle like Fleet's queued MDM commands: the host shows the pending action through the
next listing (a list request for page 0, or without a page) and the final state (``locked``/``wiped``,
``pending_action: ""``) from the listing after that; ``settle_device_actions()`` settles at once.

Conventions worth knowing when reading its answers: device-mapping sources are shown as Fleet's API
shows them (``custom`` for the installer e-mail, ``mdm_idp_accounts`` for SSO), except for the
``sso_legacy_source`` hosts, which use the older raw spellings ``custom_installer``/``identity_provider``.
A host with MDM Off or without MDM has ``mdm.name: ""`` and ``mdm.server_url: null``. List responses are
streamed with chunked transfer encoding (as Go's net/http does), so an unpaged listing stays cheap.
Besides the brief's endpoints, ``GET /hosts/identifier/:id`` and ``POST /hosts/:id/unlock`` exist, and labels
(list, get, create, modify with ``hosts``/``host_ids`` replacing a manual label's members, delete by id) are
kept per simulator, builtin ones included; ``Faults.labels_status`` makes every label request fail.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import itertools
import json
import random
import re
import socket
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MINUTE, HOUR, DAY = 60, 3600, 86400
NEVER = "2000-01-01T00:00:00Z"  # Fleet's "never happened" timestamp for hosts that never checked in
MAX_BODY_BYTES = 1024 * 1024  # Fleet's default request body cap

# name -> (hosts per 100 ids, what it looks like). Shares add up to 100.
SITUATIONS: dict[str, tuple[int, str]] = {
    "healthy": (46, "MDM On (automatic/manual) where the platform has MDM (Linux/ChromeOS: enrollment_status null), "
                    "fleetd reporting, seen within 45 min; desktops carry installer and SSO e-mail of the same "
                    "employee, phones/tablets SSO only, Chromebooks a Chrome profile only"),
    "no_agent": (5, "desktop (macOS/Windows), MDM On, no fleetd: orbit_version null, osquery_version ''"),
    "agent_stale": (5, "fleetd installed but seen_time 3-12 days old, last_mdm_checked_in_at within 6 h"),
    "profile_removed": (4, "macOS, MDM Off after having been enrolled (last_mdm_enrolled_at set), fleetd reporting"),
    "offline_weeks": (5, "nothing heard for 3-6 weeks (seen_time and MDM check-in)"),
    "abm_pending": (4, "Apple Business Manager placeholder: MDM Pending, hostname/uuid '', osquery_version '', "
                       "seen_time = created_at, detail_updated_at/last_enrolled_at = 2000-01-01 (never), offline"),
    "other_mdm": (4, "fleetd reporting but enrolled in Intune/Jamf/Kandji: connected_to_fleet false"),
    "duplicate_stale": (2, "older record of a re-enrolled device: same serial/uuid as the next id, silent 2-5 weeks"),
    "duplicate_current": (2, "newer record of that device (id + 1), enrolled 1-10 days ago, healthy"),
    "personal": (4, "BYOD iOS/iPadOS/Android, MDM 'On (personal)', serial and uuid are a temporary enrollment id"),
    "empty_serial": (3, "VM-like Linux/Windows host with hardware_serial '', otherwise healthy"),
    "unknown_platform": (1, "platform 'freebsd' (plain osquery, no MDM)"),
    "email_mismatch": (4, "healthy, but installer e-mail is employee k and SSO e-mail is another employee"),
    "several_users": (3, "healthy, SSO accounts of two employees (installer e-mail is the first)"),
    "generic_installer": (4, "healthy, no installer e-mail and no SSO e-mail; the local account is the owner's "
                             "directory user name, or on every other one (a shared kiosk) a shared account"),
    "installer_only": (2, "healthy, installer e-mail only (no SSO yet)"),
    "sso_legacy_source": (2, "healthy, older-style sources: 'custom_installer' and 'identity_provider'"),
}
SITUATION_SHARES: dict[str, int] = {name: share for name, (share, _) in SITUATIONS.items()}
REENROLLED = "reenrolled"  # situation of hosts created by FleetSimulator.reenroll()

_DESKTOP = {"darwin": 55, "windows": 33, "ubuntu": 8, "rhel": 4}
_PLATFORM_WEIGHTS: dict[str, dict[str, int]] = {
    "healthy": {"darwin": 44, "windows": 27, "ubuntu": 6, "rhel": 2, "ios": 9, "ipados": 4, "android": 5, "chrome": 3},
    "no_agent": {"darwin": 3, "windows": 1},
    "agent_stale": {"darwin": 3, "windows": 2},
    "profile_removed": {"darwin": 1},
    "offline_weeks": {"darwin": 4, "windows": 3, "ubuntu": 1, "ios": 1, "android": 1},
    "abm_pending": {"darwin": 3, "ios": 2, "ipados": 1},
    "other_mdm": {"darwin": 1, "windows": 1},
    "duplicate_stale": {"darwin": 2, "windows": 1},
    "personal": {"ios": 2, "android": 2, "ipados": 1},
    "empty_serial": {"ubuntu": 3, "rhel": 1, "windows": 1},
    "unknown_platform": {"freebsd": 1},
    "sso_legacy_source": {"darwin": 3, "windows": 1},
}
APPLE = frozenset({"darwin", "ios", "ipados"})
MOBILE = frozenset({"ios", "ipados", "android"})
LINUX = frozenset({"ubuntu", "rhel"})
# Platforms whose MDM Fleet can turn off with DELETE /hosts/:id/mdm.
MDM_OFF_PLATFORMS = APPLE | {"android"}

_FIRST = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Klara", "Liam",
          "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Samuel", "Tara", "Umar", "Vera", "William", "Xenia",
          "Yusuf", "Zoe", "Amir", "Bianca", "Carlos", "Dana", "Elias", "Fatima", "Gabriel", "Hannah", "Ivan",
          "Julia", "Kenji", "Lea", "Mateo", "Nina")
_LAST = ("Chao", "Martin", "Novak", "Schmidt", "Garcia", "Kowalski", "Rossi", "Dubois", "Jensen", "Okafor",
         "Silva", "Tanaka", "Muller", "Haddad", "Ivanova", "Larsen", "Moreau", "Nguyen", "Oliveira", "Petrov",
         "Quint", "Richter", "Santos", "Takahashi", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zimmer",
         "Andersson", "Bauer", "Costa", "Dimitrov", "Eriksen", "Fischer", "Greco", "Horvat", "Ibrahim", "Jovanovic")
_DEPARTMENTS = ("Engineering", "Sales", "Finance", "Design", "Support", "Operations")
_TEAMS = {"desktop": (1, "Workstations"), "mobile": (2, "Mobile devices")}


def employee_name(k: int) -> str:
    """Full name of generated employee *k* (1-based). Names may repeat; e-mails never do."""
    j = k - 1
    return f"{_FIRST[j % len(_FIRST)]} {_LAST[(j * 17 + j // len(_FIRST)) % len(_LAST)]}"


def employee_email(k: int, domain: str = "demo.test") -> str:
    """E-mail of generated employee *k*: ``firstname.lastname{k}@{domain}``, lower-case ASCII."""
    first, last = employee_name(k).lower().split(" ")
    return f"{first}.{last}{k}@{domain}"


def employee_count_for(hosts: int) -> int:
    """How many employees own the generated hosts of a simulator built with ``hosts`` hosts."""
    return max(1, (hosts * 4 + 4) // 5)


def rfc3339(moment: datetime) -> str:
    """Fleet's timestamp spelling: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _block_layout(seed: int, block: int) -> tuple[str, ...]:
    """The situations of ids ``100*block+1 .. 100*block+100``: exact shares, shuffled with the seed.

    A duplicate pair is one unit, so the stale record is always directly followed by its newer twin.
    """
    pairs = SITUATION_SHARES["duplicate_current"]
    units: list[tuple[str, ...]] = [("duplicate_stale", "duplicate_current")] * pairs
    for name, share in SITUATION_SHARES.items():
        if name not in ("duplicate_stale", "duplicate_current"):
            units += [(name,)] * share
    random.Random(f"fleet-sim-layout:{seed}:{block}").shuffle(units)
    return tuple(name for unit in units for name in unit)


def layout_situation(seed: int, index: int) -> str:
    """Situation of generated host index *index* (1-based) before any runtime change."""
    return _block_layout(seed, (index - 1) // 100)[(index - 1) % 100]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


_UPPER_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_APPLE_SERIAL = "CDFGHJKLMNPQRTVWXY0123456789"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------------------------------
# Identity: what a device *is* (platform, model, serial, owner). A re-enrolled device keeps it.
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Identity:
    platform: str
    owner: int
    hostname: str
    computer_name: str
    serial: str
    uuid: str
    vendor: str
    model: str
    cpu_brand: str
    cpu_type: str
    cores: int
    memory_gb: int
    disk_gb: int
    os_version: str
    build: str
    platform_like: str
    code_name: str
    laptop: bool
    team: tuple[int, str] | None


def _mac(rng, first, _k):
    model, family, cpu, arch, cores, mem, disk = rng.choice((
        ("MacBookPro18,3", "MacBook Pro", "Apple M1 Pro", "arm64e", 8, 16, 512),
        ("Mac15,6", "MacBook Pro", "Apple M3 Pro", "arm64e", 11, 18, 512),
        ("Mac14,2", "MacBook Air", "Apple M2", "arm64e", 8, 16, 256),
        ("MacBookAir10,1", "MacBook Air", "Apple M1", "arm64e", 8, 8, 256),
        ("MacBookPro16,1", "MacBook Pro", "Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz", "x86_64h", 6, 16, 512),
        ("iMac21,1", "iMac", "Apple M1", "arm64e", 8, 16, 512),
    ))
    os_version, build = rng.choice((("macOS 15.2", "24C101"), ("macOS 15.1.1", "24B91"),
                                    ("macOS 14.7.1", "23H222"), ("macOS 13.7.1", "22H221")))
    serial = "C02" + _chars(rng, _APPLE_SERIAL, 9) if arch == "x86_64h" else _chars(rng, _APPLE_SERIAL, 10)
    return dict(hostname=f"{first}s-{family.replace(' ', '-')}.local", computer_name=f"{first}'s {family}",
                serial=serial, uuid=_uuid(rng).upper(), vendor="Apple Inc.", model=model, cpu_brand=cpu,
                cpu_type=arch, cores=cores, memory_gb=mem, disk_gb=disk, os_version=os_version, build=build,
                platform_like="darwin", code_name="", laptop=family != "iMac")


def _windows(rng, _first, _k):
    vendor, model, serial = rng.choice((
        ("Dell Inc.", "Latitude 5440", _chars(rng, _UPPER_ALNUM, 7)),
        ("LENOVO", "ThinkPad T14 Gen 3", "PF" + _chars(rng, _UPPER_ALNUM, 6)),
        ("HP", "HP EliteBook 840 G9", "5CG" + _chars(rng, _UPPER_ALNUM, 7)),
        ("Microsoft Corporation", "Surface Laptop 5", _chars(rng, "0123456789", 12)),
    ))
    os_version, build = rng.choice((("Windows 11 Enterprise 23H2 10.0.22631.4460", "22631.4460"),
                                    ("Windows 11 Pro 24H2 10.0.26100.2314", "26100.2314"),
                                    ("Windows 10 Enterprise 22H2 10.0.19045.5131", "19045.5131")))
    name = f"{rng.choice(('LAPTOP', 'DESKTOP'))}-{_chars(rng, _UPPER_ALNUM, 7)}"
    return dict(hostname=name, computer_name=name, serial=serial, uuid=_uuid(rng).upper(), vendor=vendor,
                model=model, cpu_brand="13th Gen Intel(R) Core(TM) i7-1365U", cpu_type="x86_64", cores=10,
                memory_gb=rng.choice((16, 32)), disk_gb=512, os_version=os_version, build=build,
                platform_like="windows", code_name="", laptop=True)


def _linux(platform):
    def build(rng, first, _k):
        vendor, model, serial = rng.choice((
            ("LENOVO", "ThinkPad X1 Carbon Gen 11", "PF" + _chars(rng, _UPPER_ALNUM, 6)),
            ("Dell Inc.", "XPS 13 9320", _chars(rng, _UPPER_ALNUM, 7)),
            ("VMware, Inc.", "VMware Virtual Platform", "VMware-56 4d " + _chars(rng, "0123456789abcdef", 8)),
        ))
        if platform == "ubuntu":
            os_version, like, code = rng.choice((("Ubuntu 24.04.1 LTS", "debian", "noble"),
                                                 ("Ubuntu 22.04.5 LTS", "debian", "jammy")))
        else:
            os_version, like, code = "Red Hat Enterprise Linux 9.4.0", "rhel", "Plow"
        name = f"{first.lower()}-{model.split()[0].lower()}"
        return dict(hostname=name, computer_name=name, serial=serial, uuid=_uuid(rng), vendor=vendor, model=model,
                    cpu_brand="AMD Ryzen 7 PRO 7840U", cpu_type="x86_64", cores=8, memory_gb=32, disk_gb=1024,
                    os_version=os_version, build="", platform_like=like, code_name=code,
                    laptop=vendor != "VMware, Inc.")
    return build


def _apple_mobile(platform):
    def build(rng, first, _k):
        if platform == "ios":
            model, os_version, build_id, device = rng.choice((("iPhone15,2", "iOS 18.1.1", "22B91", "iPhone"),
                                                              ("iPhone16,1", "iOS 17.7", "21H16", "iPhone")))
        else:
            model, os_version, build_id, device = rng.choice((("iPad13,18", "iPadOS 17.6.1", "21G93", "iPad"),
                                                              ("iPad14,3", "iPadOS 18.1", "22B83", "iPad")))
        udid = "00008" + _chars(rng, "0123456789", 3) + "-" + _chars(rng, "0123456789ABCDEF", 16)
        return dict(hostname=f"{first}'s {device}", computer_name=f"{first}'s {device}",
                    serial=_chars(rng, _APPLE_SERIAL, 10), uuid=udid, vendor="Apple Inc.", model=model, cpu_brand="",
                    cpu_type="", cores=0, memory_gb=0, disk_gb=128, os_version=os_version, build=build_id,
                    platform_like=platform, code_name="", laptop=False)
    return build


def _android(rng, _first, _k):
    vendor, model, serial = rng.choice((("Google", "Pixel 8", _chars(rng, _UPPER_ALNUM, 14)),
                                        ("samsung", "SM-S911B", "R5CW" + _chars(rng, _UPPER_ALNUM, 7))))
    return dict(hostname=model, computer_name=model, serial=serial, uuid=_chars(rng, "0123456789abcdef", 16),
                vendor=vendor, model=model, cpu_brand="", cpu_type="", cores=0, memory_gb=0, disk_gb=128,
                os_version=rng.choice(("Android 14", "Android 15")), build="", platform_like="android",
                code_name="", laptop=False)


def _chrome(rng, first, _k):
    return dict(hostname=f"{first.lower()}-chromebook", computer_name=f"{first.lower()}-chromebook",
                serial="5CD" + _chars(rng, _UPPER_ALNUM, 7), uuid=_uuid(rng), vendor="HP",
                model="HP Chromebook x360 14c", cpu_brand="Intel(R) Core(TM) i3-10110U", cpu_type="x86_64", cores=4,
                memory_gb=8, disk_gb=64, os_version="Chrome OS 130.0.6723.110", build="", platform_like="chrome",
                code_name="", laptop=True)


def _freebsd(rng, _first, _k):
    name = f"gw-{rng.randint(1, 40):02d}"
    return dict(hostname=name, computer_name=name, serial=_chars(rng, "0123456789", 10), uuid=_uuid(rng),
                vendor="Supermicro", model="SYS-5019C-MR", cpu_brand="Intel(R) Xeon(R) E-2278G", cpu_type="amd64",
                cores=8, memory_gb=64, disk_gb=960, os_version="FreeBSD 14.1-RELEASE", build="",
                platform_like="freebsd", code_name="", laptop=False)


_IDENTITY_BUILDERS = {"darwin": _mac, "windows": _windows, "ubuntu": _linux("ubuntu"), "rhel": _linux("rhel"),
                      "ios": _apple_mobile("ios"), "ipados": _apple_mobile("ipados"), "android": _android,
                      "chrome": _chrome, "freebsd": _freebsd}


def _identity(seed: int, index: int, employees: int) -> _Identity:
    """The device behind generated host index *index*; its platform fits the index's own situation."""
    rng = random.Random(f"fleet-sim-identity:{seed}:{index}")
    situation = layout_situation(seed, index)
    platform = _weighted(rng, _PLATFORM_WEIGHTS.get(situation, _DESKTOP))
    owner = 1 + (index - 1) % employees
    first = employee_name(owner).split(" ")[0]
    fields = _IDENTITY_BUILDERS[platform](rng, first, owner)
    if platform == "freebsd" or rng.random() < 0.12:
        team = None
    else:
        team = _TEAMS["mobile" if platform in MOBILE else "desktop"]
    return _Identity(platform=platform, owner=owner, team=team, **fields)


# --------------------------------------------------------------------------------------------------
# State: what Fleet currently knows about one host record (times, agent, MDM, people).
# --------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Clock:
    """``live`` drives contact times of hosts that keep reporting; ``anchor`` dates history."""

    live: datetime
    anchor: datetime

    def recent(self, seconds: float) -> datetime:
        return self.live - timedelta(seconds=seconds)

    def past(self, seconds: float) -> datetime:
        return self.anchor - timedelta(seconds=seconds)


def _healthy_enrollment(rng: random.Random, platform: str) -> str | None:
    if platform in ("darwin", "windows", "android"):
        return "On (automatic)" if rng.random() < (0.7 if platform == "darwin" else 0.45) else "On (manual)"
    if platform in ("ios", "ipados"):
        return "On (automatic)"
    return None  # Linux, ChromeOS, unknown platforms: Fleet has no MDM there


def _fleet_mdm_url(platform: str, domain: str) -> str | None:
    if platform in APPLE:
        return f"https://fleet.{domain}/mdm/apple/mdm"
    if platform == "windows":
        return f"https://fleet.{domain}/api/mdm/microsoft/discovery.svc"
    if platform == "android":
        return f"https://fleet.{domain}/api/v1/fleet/android_enterprise/connect"
    return None


def _agent(rng: random.Random, ident: _Identity, *, old: bool = False) -> dict:
    """fleetd versions: none on mobile (MDM only), plain osquery on FreeBSD, Chrome's extension."""
    if ident.platform in MOBILE:
        return {"osquery_version": "", "orbit_version": None, "fleet_desktop_version": None, "scripts_enabled": None}
    if ident.platform == "chrome":
        return {"osquery_version": "1.3.2", "orbit_version": None, "fleet_desktop_version": None,
                "scripts_enabled": None}
    if ident.platform == "freebsd":
        return {"osquery_version": "5.12.1", "orbit_version": None, "fleet_desktop_version": None,
                "scripts_enabled": None}
    orbit = "1.29.0" if old else rng.choice(("1.36.0", "1.37.0", "1.38.1"))
    desktop = "" if ident.platform in LINUX and ident.vendor == "VMware, Inc." else orbit
    return {"osquery_version": "5.12.1" if old else rng.choice(("5.14.1", "5.15.0")), "orbit_version": orbit,
            "fleet_desktop_version": desktop, "scripts_enabled": True}


def _no_agent() -> dict:
    return {"osquery_version": "", "orbit_version": None, "fleet_desktop_version": None, "scripts_enabled": None}


def _mdm(enrollment: str | None, name: str, url: str | None, *, connected: bool | None, dep_error: bool = False,
         key: bool = False) -> dict:
    return {"encryption_key_available": key, "enrollment_status": enrollment, "dep_profile_error": dep_error,
            "name": name, "server_url": url, "connected_to_fleet": connected}


def _fleet_mdm(rng: random.Random, ident: _Identity, domain: str, enrollment: str | None) -> dict:
    if enrollment is None:
        return _mdm(None, "", None, connected=None)
    key = ident.platform in ("darwin", "windows") and rng.random() < 0.85
    return _mdm(enrollment, "Fleet", _fleet_mdm_url(ident.platform, domain), connected=True, key=key)


def _state(situation: str, ident: _Identity, rng: random.Random, clock: _Clock, domain: str) -> dict:
    """Times, agent and MDM block of one record. Keys starting with ``_`` are internal."""
    created = clock.past(rng.randint(60, 900) * DAY + rng.randint(0, DAY))
    # Half the reporting hosts are inside Fleet's ~70 s online window, the rest seen within 45 minutes.
    seen = clock.recent(rng.randint(1, 55) if rng.random() < 0.5 else rng.randint(2 * MINUTE, 45 * MINUTE))
    st = {"created": created, "enrolled": created + timedelta(seconds=rng.randint(30, HOUR)), "seen": seen,
          "mdm_checkin": clock.recent(rng.randint(MINUTE, 6 * HOUR)), "mdm_enrolled": None, **_agent(rng, ident)}
    enrollment = _healthy_enrollment(rng, ident.platform)
    st["mdm"] = _fleet_mdm(rng, ident, domain, enrollment)
    if situation == "no_agent":
        st.update(_no_agent(), seen=st["mdm_checkin"])
    elif situation == "agent_stale":
        st["seen"] = clock.past(rng.randint(3 * DAY, 12 * DAY))
    elif situation == "profile_removed":
        st["mdm_checkin"] = clock.past(rng.randint(2 * DAY, 20 * DAY))
        st["mdm"] = _mdm("Off", "", None, connected=False)
    elif situation in ("offline_weeks", "duplicate_stale"):
        low, high = (21, 42) if situation == "offline_weeks" else (14, 35)
        st["seen"] = clock.past(rng.randint(low * DAY, high * DAY))
        st["mdm_checkin"] = st["seen"] - timedelta(seconds=rng.randint(0, 12 * HOUR))
        if situation == "duplicate_stale":
            st.update(_agent(rng, ident, old=True))
    elif situation == "duplicate_current":
        st["created"] = clock.past(rng.randint(DAY, 10 * DAY))
        st["enrolled"] = st["created"]
    elif situation == "abm_pending":
        st["created"] = clock.past(rng.randint(DAY, 60 * DAY))
        st.update(_no_agent(), seen=st["created"], enrolled=NEVER, mdm_checkin=None, _pending=True)
        st["mdm"] = _mdm("Pending", "Fleet", _fleet_mdm_url(ident.platform, domain), connected=False,
                         dep_error=rng.random() < 0.25)
    elif situation == "other_mdm":
        name, url = (("Intune", "https://manage.microsoft.com/EnrollmentServer/Discovery.svc")
                     if ident.platform == "windows" else
                     rng.choice((("Jamf", "https://demo.jamfcloud.com/mdm/ServerURL"),
                                 ("Kandji", "https://demo.kandji.io/mdm"))))
        st["mdm"] = _mdm(rng.choice(("On (manual)", "On (automatic)")), name, url, connected=False)
        st["mdm_checkin"] = None
    elif situation == "personal":
        st["mdm"] = _fleet_mdm(rng, ident, domain, "On (personal)")
        st["_temporary_id"] = _uuid(rng).upper()
    elif situation == "empty_serial":
        st["_empty_serial"] = True
    if st["mdm"]["enrollment_status"] is not None and st["mdm"]["enrollment_status"] != "Pending":
        st["mdm_enrolled"] = st["enrolled"]
    if st["mdm"]["enrollment_status"] is None:
        st["mdm_checkin"] = None
    return st


def _email_plan(situation: str, ident: _Identity, employees: int) -> tuple[int | None, list[int], str, str]:
    """(installer employee, SSO employees, installer source, SSO source) — who the host says it belongs to."""
    k = ident.owner
    other = k % employees + 1 if employees > 1 else k + 1
    sources = ("custom", "mdm_idp_accounts")
    if situation in ("abm_pending", "unknown_platform", "generic_installer") or ident.platform == "chrome":
        return None, [], *sources
    if situation in ("no_agent", "personal") or ident.platform in MOBILE:
        return None, [k], *sources
    plans = {"other_mdm": (k, []), "installer_only": (k, []), "email_mismatch": (k, [other]),
             "several_users": (k, [k, other])}
    installer, sso = plans.get(situation, (k, [k]))
    if situation == "sso_legacy_source":
        return installer, sso, "custom_installer", "identity_provider"
    return installer, sso, *sources


def _people(seed: int, situation: str, ident: _Identity, employees: int, domain: str, clock: _Clock,
            *, shared: bool = False) -> dict:
    """device_mapping, end_users and local users, all derived from the same employees: the accounts are
    the owner's and the other SSO users', or the owner's alone when the host names no one."""
    installer, sso, installer_source, sso_source = _email_plan(situation, ident, employees)
    mapping = [{"email": employee_email(k, domain), "source": sso_source} for k in sso]
    if installer is not None:
        mapping.append({"email": employee_email(installer, domain), "source": installer_source})
    if ident.platform == "chrome" and situation != "generic_installer":
        mapping.append({"email": employee_email(ident.owner, domain), "source": "google_chrome_profiles"})
    end_users = [_end_user(seed, k, domain, clock) for k in sso]
    others = [{"email": m["email"], "source": "custom" if m["source"].startswith("custom") else m["source"]}
              for m in mapping if m["source"] not in (sso_source,)]
    if others and not end_users:
        end_users = [{"idp_info_updated_at": None, "idp_id": "", "idp_username": "", "idp_full_name": "",
                      "idp_department": "", "idp_groups": [], "other_emails": []}]
    if end_users:
        end_users[0]["other_emails"] = others
    people = list(dict.fromkeys(([installer] if installer else []) + sso)) or [ident.owner]
    return {"device_mapping": mapping, "end_users": end_users,
            "users": _local_users(ident, people, domain, shared=shared)}


def _end_user(seed: int, k: int, domain: str, clock: _Clock) -> dict:
    department = _DEPARTMENTS[k % len(_DEPARTMENTS)]
    return {"idp_info_updated_at": rfc3339(clock.past(DAY + (k % 30) * DAY)),
            "idp_id": str(uuid.UUID(int=random.Random(f"fleet-sim-idp:{seed}:{k}").getrandbits(128), version=4)),
            "idp_username": employee_email(k, domain), "idp_full_name": employee_name(k),
            "idp_department": department, "idp_groups": ["Employees", department], "other_emails": []}


def employee_username(k: int, domain: str = "demo.test") -> str:
    """Directory user name of generated employee *k*: the local part of their e-mail (``anna.chao1``)."""
    return employee_email(k, domain).split("@")[0]


def _account(uid: int, username: str, groupname: str, shell: str, type_: str = "") -> dict:
    return {"uid": uid, "username": username, "type": type_, "groupname": groupname, "shell": shell}


# What osquery's ``users`` table shows of every machine of a platform before anyone logs in.
_SYSTEM_ACCOUNTS = {
    "darwin": [_account(0, "root", "wheel", "/bin/sh"), _account(1, "daemon", "daemon", "/usr/bin/false"),
               _account(248, "_mbsetupuser", "_mbsetupuser", "/bin/bash"),
               _account(4294967294, "nobody", "nobody", "/usr/bin/false")],
    "windows": [_account(18, "SYSTEM", "", "C:\\Windows\\system32\\config\\systemprofile", "special"),
                _account(500, "Administrator", "Administrators", "C:\\Windows\\system32\\cmd.exe", "local"),
                _account(501, "Guest", "Guests", "C:\\Windows\\system32\\cmd.exe", "local"),
                _account(503, "DefaultAccount", "System Managed Accounts Group", "C:\\Windows\\system32\\cmd.exe",
                         "local")],
    "linux": [_account(0, "root", "root", "/bin/bash"), _account(1, "daemon", "daemon", "/usr/sbin/nologin"),
              _account(65534, "nobody", "nogroup", "/usr/sbin/nologin")],
}
_SHARED_ACCOUNTS = ("kiosk", "frontdesk", "meetingroom")


def is_shared_host(situation: str, index: int) -> bool:
    """Every other desktop set up with a generic installer is a shared (kiosk) machine: one shared account."""
    return situation == "generic_installer" and index % 2 == 0


def _local_users(ident: _Identity, people: list[int], domain: str, *, shared: bool) -> list[dict]:
    """The host's local accounts: the platform's system accounts, then its people's (their directory user
    name) or, on a shared machine, one shared account. Phones, tablets, Chromebooks and the FreeBSD
    gateways (plain osquery, not simulated here) have none."""
    if ident.platform in MOBILE or ident.platform == "chrome" or ident.platform == "freebsd":
        return []
    family = ident.platform if ident.platform in ("darwin", "windows") else "linux"
    names = [_SHARED_ACCOUNTS[ident.owner % len(_SHARED_ACCOUNTS)]] if shared else [
        employee_username(k, domain) for k in people]
    first, group, shell, type_ = {
        "darwin": (501, "staff", "/bin/zsh", ""),
        "windows": (1001, "Users", "C:\\Windows\\system32\\cmd.exe", "local"),
        "linux": (1000, "users", "/bin/bash", ""),
    }[family]
    return copy.deepcopy(_SYSTEM_ACCOUNTS[family]) + [
        _account(first + n, name, group, shell, type_) for n, name in enumerate(names)]


def _profiles(rng: random.Random, platform: str, mdm: dict) -> list[dict]:
    if mdm["name"] != "Fleet" or not (mdm["enrollment_status"] or "").startswith("On"):
        return []
    names = {"darwin": ("FileVault", "Wi-Fi Corp", "Restrictions"), "ios": ("Wi-Fi Corp", "Passcode"),
             "ipados": ("Wi-Fi Corp", "Passcode"), "windows": ("BitLocker", "Windows Update"),
             "android": ("Work profile policy",)}.get(platform, ())
    prefix = "w" if platform == "windows" else ("g" if platform == "android" else "a")
    profiles = []
    for name in names:
        status = rng.choices(("verified", "verifying", "pending", "failed"), weights=(85, 7, 4, 4))[0]
        profiles.append({"profile_uuid": prefix + _uuid(rng), "name": name, "status": status,
                         "operation_type": "install", "scope": "device", "managed_local_account": "",
                         "detail": "The profile could not be installed on the device." if status == "failed" else ""})
    return profiles


def _online(seen: datetime | None, interval: int, now: datetime) -> bool:
    """Fleet's rule: online iff seen_time + min(distributed_interval, config_tls_refresh) + 60 s > now."""
    return seen is not None and seen + timedelta(seconds=interval + 60) > now


# Fields that only Get host returns; the list view drops them.
DETAIL_ONLY_FIELDS = ("last_mdm_checked_in_at", "last_mdm_enrolled_at", "disk_encryption_enabled", "batteries",
                      "maintenance_window", "users", "end_users", "labels", "packs", "policies", "software")
LIST_MDM_FIELDS = ("encryption_key_available", "enrollment_status", "dep_profile_error", "name", "server_url",
                   "connected_to_fleet")


def _record(seed: int, host_id: int, index: int, situation: str, employees: int, domain: str,
            clock: _Clock) -> dict:
    """The full Get-host ``host`` object of a generated host, plus its ``device_mapping``."""
    ident = _identity(seed, index, employees)
    rng = random.Random(f"fleet-sim-state:{seed}:{host_id}")
    st = _state("healthy" if situation == REENROLLED else situation, ident, rng, clock, domain)
    mdm_only = st["orbit_version"] is None and st["osquery_version"] == ""
    interval = 0 if mdm_only else 10
    serial, host_uuid = ident.serial, ident.uuid
    hostname, computer_name = ident.hostname, ident.computer_name
    if "_temporary_id" in st:
        serial = host_uuid = st["_temporary_id"]
    if st.get("_empty_serial"):
        serial = ""
    pending = bool(st.get("_pending"))
    if pending:  # an ABM placeholder: Fleet knows serial and model only
        host_uuid = hostname = computer_name = ""
    seen = st["seen"]
    detail = NEVER if pending else rfc3339(seen - timedelta(seconds=rng.randint(0, HOUR)))
    uptime = 0 if pending else rng.randint(HOUR, 20 * DAY)
    failing = 0 if mdm_only else rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]
    critical = rng.choices((0, 1, 2), weights=(80, 15, 5))[0] if failing or rng.random() < 0.1 else 0
    free = round(ident.disk_gb * rng.uniform(0.08, 0.8), 2)
    team_id, team_name = ident.team or (None, None)
    host = {
        "created_at": rfc3339(st["created"]), "updated_at": rfc3339(seen),
        "id": host_id, "detail_updated_at": detail, "label_updated_at": detail, "policy_updated_at": detail,
        "last_enrolled_at": st["enrolled"] if isinstance(st["enrolled"], str) else rfc3339(st["enrolled"]),
        "seen_time": rfc3339(seen), "software_updated_at": detail,
        "last_restarted_at": NEVER if pending else rfc3339(seen - timedelta(seconds=uptime)),
        "last_mdm_checked_in_at": rfc3339(st["mdm_checkin"]) if st["mdm_checkin"] else None,
        "last_mdm_enrolled_at": rfc3339(st["mdm_enrolled"]) if st["mdm_enrolled"] else None,
        "refetch_requested": False, "hostname": hostname, "uuid": host_uuid, "platform": ident.platform,
        "osquery_version": st["osquery_version"], "orbit_version": st["orbit_version"],
        "fleet_desktop_version": st["fleet_desktop_version"], "scripts_enabled": st["scripts_enabled"],
        "os_version": ident.os_version, "build": ident.build, "platform_like": ident.platform_like,
        "code_name": ident.code_name, "uptime": uptime * 1_000_000_000, "memory": ident.memory_gb * 1024**3,
        "cpu_type": ident.cpu_type, "cpu_subtype": ident.cpu_type.upper(), "cpu_brand": ident.cpu_brand,
        "cpu_physical_cores": ident.cores, "cpu_logical_cores": ident.cores, "hardware_vendor": ident.vendor,
        "hardware_model": ident.model, "hardware_version": "", "hardware_serial": serial,
        "computer_name": computer_name, "timezone": None,
        "display_name": computer_name or hostname or f"{ident.model} ({serial})", "display_text": hostname,
        "public_ip": "" if mdm_only else f"203.0.113.{rng.randint(1, 254)}",
        "primary_ip": "" if mdm_only else f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
        "primary_mac": "" if mdm_only else ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6)),
        "distributed_interval": interval, "config_tls_refresh": interval, "logger_tls_period": interval,
        "team_id": team_id, "fleet_id": team_id, "team_name": team_name, "fleet_name": team_name,
        "pack_stats": None, "gigs_disk_space_available": free,
        "percent_disk_space_available": round(100 * free / ident.disk_gb) if ident.disk_gb else 0,
        "gigs_total_disk_space": ident.disk_gb,
        "disk_encryption_enabled": ident.platform in MOBILE or rng.random() < 0.9,
        "status": "online" if _online(seen, interval, clock.live) else "offline",
        "issues": {"failing_policies_count": failing, "critical_vulnerabilities_count": critical,
                   "total_issues_count": failing + critical},
        "batteries": [{"cycle_count": rng.randint(20, 900), "health": "Normal"}] if ident.laptop else [],
        "maintenance_window": None,
        "labels": [{"id": 6, "name": "All Hosts", "label_type": "builtin", "label_membership_type": "dynamic"}],
        "packs": [], "policies": _policies(failing, mdm_only), "software": [],
        "mdm": {**st["mdm"], "device_status": "unlocked", "pending_action": "",
                **_mdm_detail(rng, ident.platform, st["mdm"])},
    }
    host.update(_people(seed, situation, ident, employees, domain, clock, shared=is_shared_host(situation, index)))
    if mdm_only or pending:
        host["users"] = []  # no osquery on the host: Fleet knows none of its accounts
    return host


def _policies(failing: int, mdm_only: bool) -> list[dict]:
    if mdm_only:
        return []
    names = ("Disk encryption enabled", "Screen lock enabled", "OS up to date", "Firewall enabled", "Antivirus")
    return [{"id": n + 1, "name": name, "query": "SELECT 1;", "description": "", "resolution": "", "platform": "",
             "response": "fail" if n < failing else "pass", "critical": False} for n, name in enumerate(names)]


def _mdm_detail(rng: random.Random, platform: str, mdm: dict) -> dict:
    on_fleet = mdm["name"] == "Fleet" and (mdm["enrollment_status"] or "").startswith("On")
    encryption = rng.choices(("verified", "verifying", "action_required"), weights=(85, 10, 5))[0] if on_fleet else None
    return {
        "macos_settings": {"disk_encryption": encryption, "action_required": None} if platform == "darwin" else None,
        "macos_setup": ({"bootstrap_package_status": "installed" if on_fleet else "", "detail": "",
                         "bootstrap_package_name": "cockpit-bootstrap.pkg" if on_fleet else ""}
                        if platform == "darwin" else None),
        "os_settings": ({"disk_encryption": {"status": encryption, "detail": ""}}
                        if platform in ("darwin", "windows") or platform in LINUX else None),
        "profiles": _profiles(rng, platform, mdm),
    }


# --------------------------------------------------------------------------------------------------
# Faults and the simulator
# --------------------------------------------------------------------------------------------------

@dataclass
class Faults:
    """Failure knobs for list-hosts pages, read per request (mutate them while the server runs).

    A page is the ``page`` query parameter (0-based); a listing without ``page`` counts as page 0.
    Statuses 502/503/504 are answered with a load balancer's HTML page (what really sits in front of
    Fleet); any other status with Fleet's error JSON. Order per request: delay, status, mutation, body.
    """

    status_on_page: dict[int, int] = field(default_factory=dict)  # page -> HTTP status, until cleared
    retry_after_seconds: int | None = None  # Retry-After header on 429 and 503 answers
    fail_times: int | None = None  # if set, status_on_page fires only this many times in total
    delay_seconds_on_page: dict[int, float] = field(default_factory=dict)  # sleep before answering the page
    truncated_json_on_page: set[int] = field(default_factory=set)  # first half of the JSON body only
    invalid_json_on_page: set[int] = field(default_factory=set)  # a body that is not JSON at all
    html_on_all: bool = False  # every request gets a 200 text/html login page (a proxy in the way)
    # Called once per entry, after the page's hosts are captured and before the answer is sent, so the
    # client's next request already sees the change (hosts enrolled or deleted between two pages).
    mutate_after_page: dict[int, Callable[[FleetSimulator], None]] = field(default_factory=dict)
    apns_status: int | None = None  # GET /apns answers this status (Fleet's error JSON) until cleared
    labels_status: int | None = None  # every /labels request answers this status until cleared (as apns_status)
    fired: int = 0  # how many status_on_page faults were answered (read by tests; counts toward fail_times)

    def take_status(self, page: int) -> int | None:
        """The fault status for this page, counting it against ``fail_times``."""
        status = self.status_on_page.get(page)
        if status is None or (self.fail_times is not None and self.fired >= self.fail_times):
            return None
        self.fired += 1
        return status


class BadRequest(Exception):
    """A request Fleet would refuse with 400 (the message becomes the error's reason)."""


class LabelConflict(Exception):
    """A label name already taken: Fleet answers 409."""


# Fleet's builtin labels (ids 1..n, as a fresh Fleet creates them): names are taken, and they cannot be changed.
_BUILTIN_LABELS = (
    ("All Hosts", "SELECT 1;"), ("macOS", "SELECT 1 FROM os_version WHERE platform = 'darwin';"),
    ("Ubuntu Linux", "SELECT 1 FROM os_version WHERE platform = 'ubuntu';"),
    ("CentOS Linux", "SELECT 1 FROM os_version WHERE platform = 'centos';"),
    ("MS Windows", "SELECT 1 FROM os_version WHERE platform = 'windows';"),
    ("Red Hat Linux", "SELECT 1 FROM os_version WHERE name LIKE '%red hat%';"),
    ("All Linux", "SELECT 1 FROM osquery_info WHERE build_platform LIKE '%ubuntu%';"),
    ("chrome", "SELECT 1 FROM os_version WHERE platform = 'chrome';"),
    ("iOS", ""), ("iPadOS", ""), ("Fedora Linux", ""), ("Android", ""),
)


@dataclass(slots=True)
class _Action:
    device_status: str  # state to show while pending
    pending_action: str  # lock / unlock / wipe
    final_status: str  # state once the device acknowledged
    listings: int = 0  # listings started since the command was queued


_STATUS_FILTERS = ("new", "online", "offline", "mia", "missing")
_ENROLLMENT_FILTERS = {"manual": ("On (manual)",), "automatic": ("On (automatic)",), "pending": ("Pending",),
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
        if one.get("status") and one["status"] not in _STATUS_FILTERS:
            raise BadRequest(f"invalid status: {one['status']}")
        if one.get("mdm_enrollment_status") and one["mdm_enrollment_status"] not in _ENROLLMENT_FILTERS:
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


class FleetSimulator:
    """A Fleet server on loopback with ``hosts`` generated hosts (ids 1..hosts), deterministic per seed."""

    requests_log_max = 10_000
    action_settle_listings = 2  # a lock/wipe shows its final state from the 2nd listing after it
    employee_name = staticmethod(employee_name)
    employee_email = staticmethod(employee_email)
    employee_username = staticmethod(employee_username)
    employee_count_for = staticmethod(employee_count_for)

    def __init__(self, *, hosts: int = 200, seed: int = 1, token: str = "sim-token", host: str = "127.0.0.1",
                 port: int = 0, email_domain: str = "demo.test", now: datetime | None = None):
        if hosts < 0:
            raise ValueError("hosts must be zero or more")
        self.seed, self.token, self.host, self.port = seed, token, host, port
        self.email_domain = email_domain
        self.employee_count = employee_count_for(hosts)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._fixed_now = now.replace(microsecond=0) if now else None
        self._anchor = self._fixed_now or datetime.now(UTC).replace(microsecond=0)
        self.faults = Faults()
        self.base_url = ""
        self.requests_log: list[tuple[str, str]] = []
        self.server_errors: deque[str] = deque(maxlen=100)  # tracebacks of 500s the simulator itself raised
        self._lock = threading.RLock()
        self._max_id = hosts
        self._deleted: set[int] = set()
        self._deleted_sorted: list[int] = []
        self._identity_of: dict[int, int] = {}  # re-enrolled host id -> generated index of its device
        self._overrides: dict[int, dict] = {}
        self._actions: dict[int, _Action] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.apns = "valid"
        self.apns_renew_date: datetime | None = None
        # Labels: Fleet's builtin ones, then those created through the API (manual ones hold host ids).
        self._labels: dict[int, dict] = {
            label_id: {"id": label_id, "name": name, "description": f"All {name} hosts", "query": query,
                       "label_type": "builtin", "label_membership_type": "dynamic", "host_ids": set()}
            for label_id, (name, query) in enumerate(_BUILTIN_LABELS, start=1)
        }
        self._next_label_id = len(_BUILTIN_LABELS) + 1

    # ---- Apple push certificate ------------------------------------------------------------------

    APNS_STATES = ("valid", "expiring", "expired", "not_configured")

    def set_apns(self, state: str, *, renew_date: datetime | None = None) -> None:
        """``valid`` (renews in 200 days), ``expiring`` (in 10 days), ``expired`` (3 days ago) or
        ``not_configured`` (Fleet answers 404, as when Apple MDM is not set up); ``renew_date`` overrides."""
        if state not in self.APNS_STATES:
            raise ValueError(f"APNs state must be one of {', '.join(self.APNS_STATES)}")
        self.apns, self.apns_renew_date = state, renew_date

    def apns_json(self) -> dict | None:
        """``GET /api/v1/fleet/apns``'s body, or None when no certificate is configured."""
        if self.apns == "not_configured":
            return None
        offsets = {"valid": timedelta(days=200), "expiring": timedelta(days=10), "expired": timedelta(days=-3)}
        renew = self.apns_renew_date or self.now() + offsets[self.apns]
        return {"common_name": f"APSP:{uuid.UUID(int=self.seed)}", "serial_number": str(7_000_000 + self.seed),
                "issuer": "Apple Application Integration 2 Certification Authority", "renew_date": rfc3339(renew)}

    # ---- lifecycle ---------------------------------------------------------------------------

    def bind(self) -> FleetSimulator:
        """Open the listening socket (port 0 = a free port) and set ``base_url``, without serving yet."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server((self.host, self.port), _Handler, self)
            self.port = self._server.server_address[1]
            self.base_url = f"http://{self.host}:{self.port}"
        return self

    def start(self) -> FleetSimulator:
        """Serve in a daemon thread; returns self so ``sim = FleetSimulator().start()`` reads well."""
        server = self.bind()._server
        if self._thread is None:
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"fleet-simulator-{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C raises KeyboardInterrupt here)."""
        server = self.bind()._server
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving and close the socket; requests sleeping on a delay fault give up at once."""
        self._stopping.set()
        if self._thread is not None and self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._thread = None
        self._close()

    def _close(self) -> None:
        if self._server is not None:
            self._server.server_close()
            self._server.close_connections()
            self._server = None

    def __enter__(self) -> FleetSimulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator's current time: the fixed ``now`` if one was given, else the real clock."""
        return self._fixed_now or datetime.now(UTC).replace(microsecond=0)

    def _clock(self) -> _Clock:
        return _Clock(live=self.now(), anchor=self._anchor)

    # ---- hosts ---------------------------------------------------------------------------------

    def _exists(self, host_id: int) -> bool:
        return 1 <= host_id <= self._max_id and host_id not in self._deleted

    def situation(self, host_id: int) -> str:
        """The situation a host was generated in (also for deleted ids); KeyError for ids never issued."""
        if not 1 <= host_id <= self._max_id:
            raise KeyError(host_id)
        return REENROLLED if host_id in self._identity_of else layout_situation(self.seed, host_id)

    def _identity_index(self, host_id: int) -> int:
        """Which generated device a host id shows: its own, its stale twin's, or the one it re-enrolled."""
        if host_id in self._identity_of:
            return self._identity_of[host_id]
        return host_id - 1 if layout_situation(self.seed, host_id) == "duplicate_current" else host_id

    def ids_in_situation(self, name: str, limit: int | None = None) -> list[int]:
        """Current ids in a situation, ascending (scans ids; fine for test-sized fleets)."""
        found = []
        for host_id in self._iter_ids():
            if self.situation(host_id) == name:
                found.append(host_id)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def employees(self) -> Iterator[tuple[int, str, str]]:
        """(k, name, e-mail) of every employee the generated hosts point at."""
        for k in range(1, self.employee_count + 1):
            yield k, employee_name(k), employee_email(k, self.email_domain)

    def host_ids(self) -> list[int]:
        """Current ids in ascending order."""
        with self._lock:
            return list(self._iter_ids())

    def host_count(self) -> int:
        return self._max_id - len(self._deleted)

    def _iter_ids(self, start: int = 1, step: int = 1) -> Iterator[int]:
        host_id = start
        while 1 <= host_id <= self._max_id:
            if host_id not in self._deleted:
                yield host_id
            host_id += step

    def _full_host(self, host_id: int) -> dict | None:
        """Get-host object plus ``device_mapping``, with overrides and lock/wipe state applied."""
        with self._lock:
            if not self._exists(host_id):
                return None
            overrides = copy.deepcopy(self._overrides.get(host_id, {}))
            action = self._actions.get(host_id)
            index = self._identity_index(host_id)
            situation = self.situation(host_id)
        clock = self._clock()
        host = _record(self.seed, host_id, index, situation, self.employee_count, self.email_domain, clock)
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(host.get(key), dict):
                host[key].update(value)
            else:
                host[key] = value
        if "status" not in overrides and "seen_time" in overrides:
            seen = _parse_time(host["seen_time"])
            interval = min(host["distributed_interval"], host["config_tls_refresh"])
            host["status"] = "online" if _online(seen, interval, clock.live) else "offline"
        if action is not None:
            done = action.listings >= self.action_settle_listings
            host["mdm"]["device_status"] = action.final_status if done else action.device_status
            host["mdm"]["pending_action"] = "" if done else action.pending_action
        return host

    def host_json(self, host_id: int) -> dict | None:
        """The Get-host body's ``host`` object (None if the id is unknown or deleted)."""
        host = self._full_host(host_id)
        if host is not None:
            host.pop("device_mapping")
        return host

    def device_mapping(self, host_id: int) -> list[dict] | None:
        host = self._full_host(host_id)
        return None if host is None else host["device_mapping"]

    def list_view(self, host: dict, *, device_mapping: bool, include_device_status: bool,
                  populate_users: bool = False) -> dict:
        """Reduce a full record to what List hosts returns (``users`` only with ``populate_users``)."""
        view = {key: value for key, value in host.items() if key not in DETAIL_ONLY_FIELDS}
        if populate_users:
            view["users"] = host["users"]
        mdm_keys = LIST_MDM_FIELDS + (("device_status", "pending_action") if include_device_status else ())
        view["mdm"] = {key: host["mdm"][key] for key in mdm_keys}
        if not device_mapping:
            view["device_mapping"] = None
        return view

    # ---- changes (thread-safe) -----------------------------------------------------------------

    def add_hosts(self, n: int) -> list[int]:
        """Enroll *n* new generated hosts with new, higher ids (same situation layout as the rest)."""
        with self._lock:
            first = self._max_id + 1
            self._max_id += n
            return list(range(first, self._max_id + 1))

    def delete_host(self, host_id: int) -> None:
        with self._lock:
            if not self._exists(host_id):
                raise KeyError(host_id)
            self._deleted.add(host_id)
            bisect.insort(self._deleted_sorted, host_id)
            self._overrides.pop(host_id, None)
            self._actions.pop(host_id, None)

    def reenroll(self, host_id: int) -> int:
        """Fleet re-enrollment after deletion: same device (serial, uuid, owner) under a new, higher id."""
        with self._lock:
            index = self._identity_index(host_id)
            self.delete_host(host_id)
            new_id = self.add_hosts(1)[0]
            self._identity_of[new_id] = index
            moment = rfc3339(self.now())
            self._overrides[new_id] = {"created_at": moment, "last_enrolled_at": moment, "seen_time": moment,
                                       "detail_updated_at": moment, "updated_at": moment}
            return new_id

    def update_host(self, host_id: int, **fields) -> None:
        """Override fields (datetimes become RFC3339; dict values such as ``mdm={...}`` are merged)."""
        with self._lock:
            if not self._exists(host_id):
                raise KeyError(host_id)
            current = self._overrides.setdefault(host_id, {})
            for key, value in fields.items():
                value = rfc3339(value) if isinstance(value, datetime) else copy.deepcopy(value)
                if isinstance(value, dict) and isinstance(current.get(key), dict):
                    current[key].update(value)
                else:
                    current[key] = value

    def queue_device_action(self, host_id: int, action: str) -> dict:
        """Queue lock / unlock / wipe like Fleet does; raises ValueError with Fleet's refusal reason."""
        with self._lock:  # check and queue atomically: of two concurrent wipes, one is refused
            host = self._full_host(host_id)
            if host is None:
                raise KeyError(host_id)
            refusal = _action_refusal(host, action)
            if refusal:
                raise ValueError(refusal)
            current = host["mdm"]["device_status"]
            final = {"lock": "locked", "unlock": "unlocked", "wipe": "wiped"}[action]
            self._actions[host_id] = _Action(device_status=current, pending_action=action, final_status=final)
        body = {"device_status": current, "pending_action": action}
        if action == "lock" and host["platform"] == "darwin":
            body = {"unlock_pin": f"{random.Random(f'fleet-sim-pin:{self.seed}:{host_id}').randrange(10**6):06d}",
                    **body}
        if action == "unlock":
            body = {"host_id": host_id, **body}
        return body

    def settle_device_actions(self) -> None:
        """Let every queued lock/unlock/wipe complete now (as if each device had checked in)."""
        with self._lock:
            for action in self._actions.values():
                action.listings = self.action_settle_listings

    def turn_off_mdm(self, host_id: int) -> None:
        host = self._full_host(host_id)
        if host is None:
            raise KeyError(host_id)
        if host["platform"] not in MDM_OFF_PLATFORMS:
            raise ValueError("Turning off MDM is only supported for macOS, iOS, iPadOS and Android hosts.")
        self.update_host(host_id, mdm={"enrollment_status": "Off", "name": "", "server_url": None,
                                       "connected_to_fleet": False, "encryption_key_available": False,
                                       "profiles": []})

    def _note_listing_started(self) -> None:
        with self._lock:
            for action in self._actions.values():
                action.listings += 1

    def _log(self, method: str, path: str) -> None:
        with self._lock:
            self.requests_log.append((method, path[:2048]))
            excess = len(self.requests_log) - self.requests_log_max
            if excess > 0:
                del self.requests_log[:excess]

    # ---- labels (thread-safe) ------------------------------------------------------------------

    def label_json(self, label_id: int) -> dict | None:
        """A label as Fleet answers it; a manual label's ``host_ids`` leave out hosts deleted since."""
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                return None
            host_ids = sorted(h for h in label["host_ids"] if self._exists(h))
            moment = rfc3339(self._anchor)
            return {"created_at": moment, "updated_at": moment, "id": label["id"], "name": label["name"],
                    "description": label["description"], "query": label["query"], "platform": "",
                    "label_type": label["label_type"], "label_membership_type": label["label_membership_type"],
                    "display_text": label["name"], "count": len(host_ids), "host_ids": host_ids}

    def labels(self) -> list[dict]:
        with self._lock:
            return [self.label_json(label_id) for label_id in sorted(self._labels)]

    def manual_labels(self) -> dict[str, list[int]]:
        """{name: host ids} of the labels created through the API (what tests compare with the groups)."""
        return {label["name"]: label["host_ids"] for label in self.labels() if label["label_type"] == "regular"}

    def _label_hosts(self, body: dict) -> set[int] | None:
        hosts, host_ids = body.get("hosts"), body.get("host_ids")
        if hosts is not None and host_ids is not None:
            raise BadRequest("Only one of hosts or host_ids can be included in the request.")
        if host_ids is not None:
            if not isinstance(host_ids, list) or not all(isinstance(i, int) and i > 0 for i in host_ids):
                raise BadRequest("host_ids must be a list of host ids")
            return set(host_ids)
        if hosts is not None:
            if not isinstance(hosts, list) or not all(isinstance(i, str) for i in hosts):
                raise BadRequest("hosts must be a list of host identifiers")
            wanted = {identifier for identifier in hosts if identifier}
            return {host_id for host_id in self.host_ids()
                    if wanted & {(h := self.host_json(host_id))["hostname"], h["uuid"], h["hardware_serial"]}}
        return None

    def _check_label_name(self, name, *, exclude: int | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name: missing required argument")
        if any(label["name"] == name and label_id != exclude for label_id, label in self._labels.items()):
            raise LabelConflict(f"A label named {name!r} already exists")
        return name

    def create_label(self, body: dict) -> dict:
        """``POST /labels``: a manual label unless a ``query`` is given; LabelConflict on a taken name."""
        with self._lock:
            name = self._check_label_name(body.get("name"))
            query = body.get("query") or ""
            host_ids = self._label_hosts(body)
            if query and host_ids is not None:
                raise BadRequest("Only one of query, hosts or host_ids can be included in the request.")
            label_id, self._next_label_id = self._next_label_id, self._next_label_id + 1
            self._labels[label_id] = {
                "id": label_id, "name": name, "description": str(body.get("description") or ""), "query": query,
                "label_type": "regular", "label_membership_type": "dynamic" if query else "manual",
                "host_ids": host_ids or set(),
            }
            return self.label_json(label_id)

    def modify_label(self, label_id: int, body: dict) -> dict:
        """``PATCH /labels/:id``: name, description, and a manual label's hosts (replaced, ``[]`` empties)."""
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                raise KeyError(label_id)
            if label["label_type"] == "builtin":
                raise ValueError("Built-in labels can't be modified")
            host_ids = self._label_hosts(body)
            if host_ids is not None and label["label_membership_type"] != "manual":
                raise ValueError("Only the hosts of a manual label can be changed")
            if "name" in body:
                label["name"] = self._check_label_name(body["name"], exclude=label_id)
            if "description" in body:
                label["description"] = str(body["description"] or "")
            if host_ids is not None:
                label["host_ids"] = host_ids
            return self.label_json(label_id)

    def delete_label(self, label_id: int) -> None:
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                raise KeyError(label_id)
            if label["label_type"] == "builtin":
                raise ValueError("Built-in labels can't be deleted")
            del self._labels[label_id]

    # ---- listing -------------------------------------------------------------------------------

    def _nth_alive(self, rank: int) -> int:
        """The id at 0-based ascending position *rank* among existing ids (may exceed the last id)."""
        target = rank + 1
        host_id = target
        while True:  # least fixpoint of id = target + deleted(<= id); it is never a deleted id
            candidate = target + bisect.bisect_right(self._deleted_sorted, host_id)
            if candidate == host_id:
                return host_id
            host_id = candidate

    def _alive_upto(self, host_id: int) -> int:
        """How many existing ids are <= host_id."""
        host_id = max(0, min(host_id, self._max_id))
        return host_id - bisect.bisect_right(self._deleted_sorted, host_id)

    def page_ids(self, query: ListQuery) -> list[int]:
        """Ids of one page in id order, in O(page + log deletions): the common sync path."""
        with self._lock:
            total = self.host_count()
            skip = (query.page or 0) * (query.limit or 0)
            if query.after is not None:
                if not query.after.lstrip("-").isdigit():
                    raise BadRequest(f"invalid after value for order_key id: {query.after!r}")
                after = int(query.after)
                skip += total - self._alive_upto(after - 1) if query.descending else self._alive_upto(after)
            if skip >= total:
                return []
            count = min(query.limit if query.limit is not None else total, total - skip)
            if query.descending:
                ids = self._iter_ids(self._nth_alive(total - 1 - skip), -1)
            else:
                ids = self._iter_ids(self._nth_alive(skip))
            return list(itertools.islice(ids, count))

    def select(self, query: ListQuery) -> tuple[list[int], list[dict] | None]:
        """Resolve a listing to ids (fast path) or, with filters or another order, to full records."""
        if not query.filters and query.order_key in (None, "id"):
            return self.page_ids(query), None
        now = self.now()
        hosts = [h for h in map(self._full_host, self.host_ids()) if h and _matches(h, query.filters, now)]
        key = query.order_key or "id"
        if hosts and (key not in hosts[0] or isinstance(hosts[0][key], dict | list)):
            raise BadRequest(f"invalid order_key: {key}")
        hosts.sort(key=lambda h: (h[key] is not None, h[key] if h[key] is not None else 0, h["id"]),
                   reverse=query.descending)
        if query.after is not None:
            hosts = [h for h in hosts if (str(h[key]) < query.after if query.descending else str(h[key]) > query.after)]
        offset = (query.page or 0) * (query.limit or 0)
        return [], hosts[offset: offset + query.limit if query.limit is not None else None]

    def count(self, query: ListQuery) -> int:
        if not query.filters:
            return self.host_count()
        now = self.now()
        return sum(1 for h in map(self._full_host, self.host_ids()) if h and _matches(h, query.filters, now))


def _matches(host: dict, filters: tuple[tuple[str, str], ...], now: datetime) -> bool:
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
            if host["mdm"]["enrollment_status"] not in _ENROLLMENT_FILTERS[value]:
                return False
        elif key == "status" and not _status_matches(host, value, now):
            return False
    return True


def _status_matches(host: dict, status: str, now: datetime) -> bool:
    if status in ("online", "offline"):
        return host["status"] == status
    if status == "new":
        return now - _parse_time(host["created_at"]) < timedelta(days=1)
    return now - _parse_time(host["seen_time"]) > timedelta(days=30)  # mia / missing


def _action_refusal(host: dict, action: str) -> str | None:
    """Why Fleet would refuse a lock/unlock/wipe for this host, or None."""
    platform, mdm = host["platform"], host["mdm"]
    enrolled = (mdm["enrollment_status"] or "").startswith("On") and mdm["name"] == "Fleet"
    if mdm["pending_action"]:
        return f"Host has pending {mdm['pending_action']} request. The host will {mdm['pending_action']} " \
               "when it comes online."
    if mdm["device_status"] == "wiped":
        return "Host is wiped."
    if action == "unlock" and mdm["device_status"] != "locked":
        return "Host is not locked."
    if action == "lock" and mdm["device_status"] == "locked":
        return "Host is already locked."
    if mdm["enrollment_status"] == "On (personal)" and action == "wipe":
        return "Personal (BYOD) hosts cannot be wiped."
    if platform in APPLE or platform == "android" or (platform == "windows" and action == "wipe"):
        return None if enrolled else f"Can't {action} the host because it doesn't have MDM turned on."
    if platform == "windows" or platform in LINUX:
        return None if host["scripts_enabled"] else f"Can't {action} the host because fleetd scripts are disabled."
    return f"Can't {action} {platform} hosts."


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

_ERROR_MESSAGES = {400: "Bad request", 401: "Authentication required", 403: "Permission Denied",
                   404: "Resource Not Found", 405: "Method Not Allowed", 409: "Conflict",
                   413: "Request Entity Too Large", 422: "Validation Failed", 500: "Internal Server Error"}
_PROXY_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in - Corporate Access Proxy</title></head><body>"
               b"<h1>Sign in to continue</h1><form method=\"post\" action=\"/login\"><input name=\"username\">"
               b"<input name=\"password\" type=\"password\"><button>Sign in</button></form></body></html>")
_PREFIX = r"^/api/(?:v1|latest)/fleet"
_ROUTES: tuple[tuple[re.Pattern, dict[str, str]], ...] = (
    (re.compile(_PREFIX + r"/hosts$"), {"GET": "list_hosts"}),
    (re.compile(_PREFIX + r"/hosts/count$"), {"GET": "count_hosts"}),
    (re.compile(_PREFIX + r"/hosts/identifier/([^/]+)$"), {"GET": "host_by_identifier"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)$"), {"GET": "get_host", "DELETE": "delete_host"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/device_mapping$"), {"GET": "get_device_mapping"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/mdm$"), {"DELETE": "turn_off_mdm"}),
    (re.compile(_PREFIX + r"/hosts/(\d+)/(lock|unlock|wipe)$"), {"POST": "device_action"}),
    (re.compile(_PREFIX + r"/(?:apns|mdm/apple)$"), {"GET": "get_apns"}),
    (re.compile(_PREFIX + r"/labels$"), {"GET": "list_labels", "POST": "create_label"}),
    (re.compile(_PREFIX + r"/labels/(\d+)$"), {"GET": "get_label", "PATCH": "modify_label"}),
    (re.compile(_PREFIX + r"/labels/id/(\d+)$"), {"DELETE": "delete_label"}),
)


def fleet_error(status: int, reason: str, message: str | None = None) -> dict:
    """Fleet's error body: message, errors[{name, reason}], uuid."""
    return {"message": message or _ERROR_MESSAGES.get(status, reason), "errors": [{"name": "base", "reason": reason}],
            "uuid": str(uuid.uuid4())}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections of a test's Session
    allow_reuse_address = True

    def __init__(self, address, handler, simulator: FleetSimulator):
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive clients: after stop() nothing may still answer, as with a dead Fleet."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):  # a client hung up: not worth a traceback
        pass


class _Handler(BaseHTTPRequestHandler):
    # Like Fleet's Go server: small answers go out at once instead of waiting ~40 ms for Nagle's algorithm.
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"  # keep-alive, like Fleet behind any load balancer
    server_version = "fleet-simulator"
    timeout = 30  # idle keep-alive connections close, so handler threads stay bounded

    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr access log
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    @property
    def sim(self) -> FleetSimulator:
        return self.server.simulator

    def send_response(self, code, message=None):
        self._answered = True
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        self._answered = False
        sim = self.sim
        sim._log(method, self.path)
        try:
            if not self._drain_body():
                return
            if sim.faults.html_on_all:
                return self._send(200, _LOGIN_PAGE, "text/html; charset=utf-8")
            if self.headers.get("Authorization", "") != f"Bearer {sim.token}":
                return self._error(401, "Authentication required")
            url = urlsplit(self.path)
            for pattern, methods in _ROUTES:
                match = pattern.match(url.path)
                if match:
                    if method not in methods:
                        return self._error(405, f"{method} is not allowed on {url.path}")
                    return getattr(self, methods[method])(*match.groups(), params=parse_qs(url.query))
            return self._error(404, f"{url.path} was not found")
        except BadRequest as exc:
            self._error(400, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a simulator bug: answer like Fleet's 500 and keep it for the tests
            sim.server_errors.append(traceback.format_exc())
            if self._answered:  # mid-body: the only honest signal left is hanging up
                self.close_connection = True
            else:
                self._error(500, f"simulator error: {exc}")

    def _drain_body(self) -> bool:
        """Read (and ignore) a request body; refuse bodies over Fleet's 1 MiB default."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(413 if length > 0 else 400, "request body too large or invalid Content-Length")
            return False
        self._body = self.rfile.read(length) if length else b""  # read by the endpoints that take a body
        return True

    def _json_body(self) -> dict:
        try:
            body = json.loads(self._body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    # ---- responses -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:  # RFC 9110: no Content-Length on 204
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode())

    def _error(self, status: int, reason: str, message: str | None = None, headers=None) -> None:
        self._send(status, json.dumps(fleet_error(status, reason, message)).encode(), headers=headers)

    def _stream_hosts(self, hosts: Iterable[dict]) -> None:
        """``{"hosts": [...]}`` in HTTP chunks of ~64 KB, so even an unpaged 100k listing uses little memory."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        buffer, size, first = [b'{"hosts": ['], 11, True
        for host in hosts:
            piece = (b"" if first else b", ") + json.dumps(host).encode()
            first = False
            buffer.append(piece)
            size += len(piece)
            if size >= 65536:
                self._chunk(b"".join(buffer))
                buffer, size = [], 0
        buffer.append(b"]}")
        self._chunk(b"".join(buffer))
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # ---- endpoints -----------------------------------------------------------------------------

    def list_hosts(self, *, params) -> None:
        sim, query = self.sim, ListQuery.parse(params)
        page, faults = query.fault_page, sim.faults
        delay = faults.delay_seconds_on_page.get(page)
        if delay and sim._stopping.wait(delay):
            self.close_connection = True
            return
        with sim._lock:
            status = faults.take_status(page)
            mutate = None if status is not None else faults.mutate_after_page.pop(page, None)
        if status is not None:
            return self._fault_status(status)
        if query.page in (None, 0):
            sim._note_listing_started()
        ids, records = sim.select(query)
        view = functools.partial(sim.list_view, device_mapping=query.device_mapping,
                                 include_device_status=query.include_device_status,
                                 populate_users=query.populate_users)
        broken = page in faults.truncated_json_on_page or page in faults.invalid_json_on_page
        if mutate is not None or broken:
            hosts = [view(h) for h in (records if records is not None else map(sim._full_host, ids)) if h]
            if mutate is not None:
                mutate(sim)
            if page in faults.invalid_json_on_page:
                return self._send(200, b"<<< upstream sent something that is not JSON >>>")
            if page in faults.truncated_json_on_page:
                body = json.dumps({"hosts": hosts}).encode()
                return self._send(200, body[: len(body) // 2])
            return self._stream_hosts(hosts)
        source = records if records is not None else (sim._full_host(host_id) for host_id in ids)
        self._stream_hosts(view(h) for h in source if h is not None)

    def _fault_status(self, status: int) -> None:
        retry = self.sim.faults.retry_after_seconds
        headers = {"Retry-After": str(retry)} if retry is not None and status in (429, 503) else {}
        if status in _PROXY_STATUSES:  # what a load balancer in front of Fleet sends
            title = f"{status} {_PROXY_STATUSES[status]}".encode()
            body = b"<html><head><title>%s</title></head><body><center><h1>%s</h1></center></body></html>" % (
                title, title)
            return self._send(status, body, "text/html", headers)
        if status == 429:
            text = f"limit exceeded, retry after: {retry or 1}s"
            return self._error(429, text, text, headers)
        return self._error(status, f"simulated failure ({status})", _ERROR_MESSAGES.get(status, "error"), headers)

    def count_hosts(self, *, params) -> None:
        self._json(200, {"count": self.sim.count(ListQuery.parse(params))})

    def get_host(self, host_id, *, params) -> None:
        host = self.sim.host_json(int(host_id))
        if host is None:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {"host": host})

    def get_apns(self, *, params) -> None:
        status = self.sim.faults.apns_status
        if status is not None:
            return self._fault_status(status)
        body = self.sim.apns_json()
        if body is None:  # Fleet: "if there is no apple mdm config, fail with a 404"
            return self._error(404, "Resource Not Found")
        self._json(200, body)

    def host_by_identifier(self, identifier, *, params) -> None:
        """Lookup by hostname, uuid or serial; with duplicates the oldest (lowest id) wins, as in Fleet."""
        identifier = unquote(identifier)
        for host_id in self.sim.host_ids():
            host = self.sim.host_json(host_id)
            if host and identifier and identifier in (host["hostname"], host["uuid"], host["hardware_serial"]):
                return self._json(200, {"host": host})
        self._error(404, "Host doesn't exist. Make sure you provide a valid hostname, UUID, or serial number.")

    def delete_host(self, host_id, *, params) -> None:
        try:
            self.sim.delete_host(int(host_id))
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {})

    def get_device_mapping(self, host_id, *, params) -> None:
        mapping = self.sim.device_mapping(int(host_id))
        if mapping is None:
            return self._error(404, "Host was not found in the datastore")
        self._json(200, {"host_id": int(host_id), "device_mapping": mapping})

    def turn_off_mdm(self, host_id, *, params) -> None:
        try:
            self.sim.turn_off_mdm(int(host_id))
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        except ValueError as exc:
            return self._error(400, str(exc))
        self._send(204, b"")

    def device_action(self, host_id, action, *, params) -> None:
        try:
            body = self.sim.queue_device_action(int(host_id), action)
        except KeyError:
            return self._error(404, "Host was not found in the datastore")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, body)

    def _labels_fault(self) -> bool:
        status = self.sim.faults.labels_status
        if status is None:
            return False
        self._fault_status(status)
        return True

    def list_labels(self, *, params) -> None:
        if not self._labels_fault():
            self._json(200, {"labels": self.sim.labels()})

    def get_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        label = self.sim.label_json(int(label_id))
        if label is None:
            return self._error(404, "Label was not found in the datastore")
        self._json(200, {"label": label})

    def create_label(self, *, params) -> None:
        if self._labels_fault():
            return
        try:
            label = self.sim.create_label(self._json_body())
        except LabelConflict as exc:
            return self._error(409, str(exc), "Resource Already Exists")
        self._json(200, {"label": label})

    def modify_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        try:
            label = self.sim.modify_label(int(label_id), self._json_body())
        except KeyError:
            return self._error(404, "Label was not found in the datastore")
        except LabelConflict as exc:
            return self._error(409, str(exc), "Resource Already Exists")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, {"label": label})

    def delete_label(self, label_id, *, params) -> None:
        if self._labels_fault():
            return
        try:
            self.sim.delete_label(int(label_id))
        except KeyError:
            return self._error(404, "Label was not found in the datastore")
        except ValueError as exc:
            return self._error(422, str(exc))
        self._json(200, {})


__all__ = ["FleetSimulator", "Faults", "SITUATIONS", "SITUATION_SHARES", "REENROLLED", "employee_name",
           "employee_email", "employee_count_for", "fleet_error", "rfc3339"]
