"""Local accounts: which ones the sync keeps (mdm_sync.accounts), what the client reads, what the simulator serves."""

import pytest

from mdm_sync.accounts import MAX_ACCOUNTS, human_accounts, is_human_account
from mdm_sync.fleet import FleetHost, LocalUser
from tests.conftest import SIM_TOKEN

WIN_SHELL = "C:\\Windows\\system32\\cmd.exe"


def user(username, uid=None, shell="", type_=""):
    return LocalUser(username=username, uid=uid, type=type_, shell=shell)


@pytest.mark.parametrize("account, platform, human", [
    # macOS: people from uid 500; services start with "_"; nobody is uid -2 (unsigned)
    (user("ada", 501, "/bin/zsh"), "macos", True),
    (user("root", 0, "/bin/sh"), "macos", False),
    (user("daemon", 1, "/usr/bin/false"), "macos", False),
    (user("_mbsetupuser", 248, "/bin/bash"), "macos", False),
    (user("_spotlight", 89, "/usr/bin/false"), "macos", False),
    (user("nobody", 4294967294, "/usr/bin/false"), "macos", False),
    (user("ladmin", 499, "/bin/zsh"), "macos", False),  # a uid below 500: a system account, whatever its name
    (user("svc", 600, "/usr/bin/false"), "macos", False),  # a shell that refuses logins
    # Linux: people from uid 1000
    (user("ada", 1000, "/bin/bash"), "linux", True),
    (user("ada", 999, "/bin/bash"), "linux", False),
    (user("nobody", 65534, "/usr/sbin/nologin"), "linux", False),
    (user("postgres", 1001, "/usr/sbin/nologin"), "linux", False),
    (user("gdm", None, ""), "linux", False),  # a known built-in without a uid
    # Windows: the uid is the RID; built-ins below 1000, "special" service identities, machine accounts
    (user("ada.lovelace", 1001, WIN_SHELL, "local"), "windows", True),
    (user("Administrator", 500, WIN_SHELL, "local"), "windows", False),
    (user("Guest", 501, WIN_SHELL, "local"), "windows", False),
    (user("DefaultAccount", 503, WIN_SHELL, "local"), "windows", False),
    (user("WDAGUtilityAccount", 504, WIN_SHELL, "local"), "windows", False),
    (user("SYSTEM", 18, "", "special"), "windows", False),
    (user("NETWORK SERVICE", 2000, "", "special"), "windows", False),
    (user("DESKTOP-01$", 1200, "", "local"), "windows", False),
    (user("CORP\\ada", None, "", "roaming"), "windows", True),  # no uid: judged on the other rules
    # Shared or kiosk accounts are people's accounts: kept
    (user("kiosk", 502, "/bin/zsh"), "macos", True),
    (user("", 1000, "/bin/bash"), "linux", False),
])
def test_the_account_rule(account, platform, human):
    assert is_human_account(account, platform=platform) is human


def test_human_accounts_are_sorted_unique_and_bounded():
    users = [user("bob", 502), user("root", 0), user("Ada", 501), user("ada", 503), user("_www", 70)]
    assert human_accounts(users, platform="macos") == ("Ada", "bob")
    many = [user(f"user{n:02d}", 1000 + n) for n in range(MAX_ACCOUNTS + 5)]
    assert len(human_accounts(many, platform="linux")) == MAX_ACCOUNTS
    assert human_accounts([], platform="ios") == ()


def test_fleet_client_reads_shell_and_group():
    host = FleetHost.from_json({"id": 1, "users": [
        {"uid": 501, "username": "ada", "type": "", "groupname": "staff", "shell": "/bin/zsh"},
        {"uid": 502, "username": "", "shell": "/bin/zsh"},  # no name: left out
        "garbage",
    ]})
    assert host.local_users == (LocalUser(username="ada", uid=501, type="", groupname="staff", shell="/bin/zsh"),)


# --- simulator -----------------------------------------------------------------------------------------


def test_simulator_lists_users_only_with_populate_users(sim_readonly):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {SIM_TOKEN}"
    url = sim_readonly.base_url + "/api/v1/fleet/hosts"
    plain = session.get(url, params={"page": 0, "per_page": 200}, timeout=10).json()["hosts"]
    assert not any("users" in host for host in plain)
    hosts = session.get(url, params={"page": 0, "per_page": 200, "populate_users": "true"}, timeout=10).json()["hosts"]
    assert all(host["users"] == sim_readonly.host_json(host["id"])["users"] for host in hosts)
    session.close()
    by_situation = {}
    for host in hosts:
        by_situation.setdefault((sim_readonly.situation(host["id"]), host["platform"]), host)
    mac = by_situation[("healthy", "darwin")]
    names = [u["username"] for u in mac["users"]]
    assert {"root", "daemon", "nobody", "_mbsetupuser"} <= set(names)
    windows = next(h for (situation, platform), h in by_situation.items() if platform == "windows")
    assert {"Administrator", "DefaultAccount", "Guest"} <= {u["username"] for u in windows["users"]}
    # The owner's directory user name is the human account of their laptop.
    owner_email = next(m["email"] for m in sim_readonly.device_mapping(mac["id"]) if m["source"] == "mdm_idp_accounts")
    assert owner_email.split("@")[0] in names
    assert human_accounts(FleetHost.from_json(mac).local_users, platform="macos") == (owner_email.split("@")[0],)
    # Phones have none; a host without osquery has none; a shared machine has a shared account only.
    assert all(not h["users"] for h in hosts if h["platform"] in ("ios", "ipados", "android"))
    assert all(not h["users"] for h in hosts if sim_readonly.situation(h["id"]) in ("abm_pending", "no_agent"))
    shared = [FleetHost.from_json(h) for h in hosts if sim_readonly.situation(h["id"]) == "generic_installer"
              and h["platform"] != "freebsd"]
    kiosks = [h for h in shared if human_accounts(h.local_users, platform=h.product_platform)[0]
              in ("kiosk", "frontdesk", "meetingroom")]
    assert kiosks and len(kiosks) < len(shared)
