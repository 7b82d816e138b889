"""Host generation, part one: what a device *is* and who it belongs to.

Situations (``SITUATIONS``) are laid out per block of 100 ids with exact shares; each generated host index
has a deterministic identity (platform, model, serial, uuid, owner) computed from ``(seed, index)``. A
re-enrolled device keeps its identity under a new id. Employees are pure functions of their number *k*, so
demo seeding can create them without talking to the simulator.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from functools import lru_cache

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



def employee_username(k: int, domain: str = "demo.test") -> str:
    """Directory user name of generated employee *k*: the local part of their e-mail (``anna.chao1``)."""
    return employee_email(k, domain).split("@")[0]


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


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------------------------------
# Identity: what a device *is* (platform, model, serial, owner). A re-enrolled device keeps it.
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Identity:
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
                serial=serial, uuid=random_uuid(rng).upper(), vendor="Apple Inc.", model=model, cpu_brand=cpu,
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
    return dict(hostname=name, computer_name=name, serial=serial, uuid=random_uuid(rng).upper(), vendor=vendor,
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
        return dict(hostname=name, computer_name=name, serial=serial, uuid=random_uuid(rng), vendor=vendor, model=model,
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
                serial="5CD" + _chars(rng, _UPPER_ALNUM, 7), uuid=random_uuid(rng), vendor="HP",
                model="HP Chromebook x360 14c", cpu_brand="Intel(R) Core(TM) i3-10110U", cpu_type="x86_64", cores=4,
                memory_gb=8, disk_gb=64, os_version="Chrome OS 130.0.6723.110", build="", platform_like="chrome",
                code_name="", laptop=True)


def _freebsd(rng, _first, _k):
    name = f"gw-{rng.randint(1, 40):02d}"
    return dict(hostname=name, computer_name=name, serial=_chars(rng, "0123456789", 10), uuid=random_uuid(rng),
                vendor="Supermicro", model="SYS-5019C-MR", cpu_brand="Intel(R) Xeon(R) E-2278G", cpu_type="amd64",
                cores=8, memory_gb=64, disk_gb=960, os_version="FreeBSD 14.1-RELEASE", build="",
                platform_like="freebsd", code_name="", laptop=False)


_IDENTITY_BUILDERS = {"darwin": _mac, "windows": _windows, "ubuntu": _linux("ubuntu"), "rhel": _linux("rhel"),
                      "ios": _apple_mobile("ios"), "ipados": _apple_mobile("ipados"), "android": _android,
                      "chrome": _chrome, "freebsd": _freebsd}


def device_identity(seed: int, index: int, employees: int) -> Identity:
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
    return Identity(platform=platform, owner=owner, team=team, **fields)

