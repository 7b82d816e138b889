"""Host generation, part two: what Fleet currently knows about one host record.

Times, agent, MDM block, the people a host names (device mapping, IdP end users, local accounts) and the full
Get-host object, all derived from the device's identity (``identity``), the host id and a clock. Nothing is
stored: a record is computed again whenever it is asked for.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mdm_sync.simulator.identity import (
    APPLE,
    LINUX,
    MOBILE,
    REENROLLED,
    Identity,
    device_identity,
    employee_email,
    employee_name,
    employee_username,
    random_uuid,
)

MINUTE, HOUR, DAY = 60, 3600, 86400
NEVER = "2000-01-01T00:00:00Z"  # Fleet's "never happened" timestamp for hosts that never checked in
_DEPARTMENTS = ("Engineering", "Sales", "Finance", "Design", "Support", "Operations")


def rfc3339(moment: datetime) -> str:
    """Fleet's timestamp spelling: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# State: what Fleet currently knows about one host record (times, agent, MDM, people).
# --------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Clock:
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


def _agent(rng: random.Random, ident: Identity, *, old: bool = False) -> dict:
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


def _fleet_mdm(rng: random.Random, ident: Identity, domain: str, enrollment: str | None) -> dict:
    if enrollment is None:
        return _mdm(None, "", None, connected=None)
    key = ident.platform in ("darwin", "windows") and rng.random() < 0.85
    return _mdm(enrollment, "Fleet", _fleet_mdm_url(ident.platform, domain), connected=True, key=key)


def _state(situation: str, ident: Identity, rng: random.Random, clock: Clock, domain: str) -> dict:
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
        st["_temporary_id"] = random_uuid(rng).upper()
    elif situation == "empty_serial":
        st["_empty_serial"] = True
    if st["mdm"]["enrollment_status"] is not None and st["mdm"]["enrollment_status"] != "Pending":
        st["mdm_enrolled"] = st["enrolled"]
    if st["mdm"]["enrollment_status"] is None:
        st["mdm_checkin"] = None
    return st


def _email_plan(situation: str, ident: Identity, employees: int) -> tuple[int | None, list[int], str, str]:
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


def _people(seed: int, situation: str, ident: Identity, employees: int, domain: str, clock: Clock,
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


def _end_user(seed: int, k: int, domain: str, clock: Clock) -> dict:
    department = _DEPARTMENTS[k % len(_DEPARTMENTS)]
    return {"idp_info_updated_at": rfc3339(clock.past(DAY + (k % 30) * DAY)),
            "idp_id": str(uuid.UUID(int=random.Random(f"fleet-sim-idp:{seed}:{k}").getrandbits(128), version=4)),
            "idp_username": employee_email(k, domain), "idp_full_name": employee_name(k),
            "idp_department": department, "idp_groups": ["Employees", department], "other_emails": []}



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


def _local_users(ident: Identity, people: list[int], domain: str, *, shared: bool) -> list[dict]:
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
        profiles.append({"profile_uuid": prefix + random_uuid(rng), "name": name, "status": status,
                         "operation_type": "install", "scope": "device", "managed_local_account": "",
                         "detail": "The profile could not be installed on the device." if status == "failed" else ""})
    return profiles


def is_online(seen: datetime | None, interval: int, now: datetime) -> bool:
    """Fleet's rule: online iff seen_time + min(distributed_interval, config_tls_refresh) + 60 s > now."""
    return seen is not None and seen + timedelta(seconds=interval + 60) > now


# Fields that only Get host returns; the list view drops them.
DETAIL_ONLY_FIELDS = ("last_mdm_checked_in_at", "last_mdm_enrolled_at", "disk_encryption_enabled", "batteries",
                      "maintenance_window", "users", "end_users", "labels", "packs", "policies", "software")
LIST_MDM_FIELDS = ("encryption_key_available", "enrollment_status", "dep_profile_error", "name", "server_url",
                   "connected_to_fleet")


def host_record(seed: int, host_id: int, index: int, situation: str, employees: int, domain: str,
            clock: Clock) -> dict:
    """The full Get-host ``host`` object of a generated host, plus its ``device_mapping``."""
    ident = device_identity(seed, index, employees)
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
        "status": "online" if is_online(seen, interval, clock.live) else "offline",
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

