"""Which of a host's local accounts (osquery ``users``, FLEET_API.md §3) belong to people.

The sync keeps only human accounts on the device (``Device.local_accounts``): the assignment scorer
compares them with directory user names, and the device page lists them. An account is a system or
service account, and dropped, when any of these holds:

* its name starts with ``_`` (macOS services: ``_mbsetupuser``, ``_www``…) or ends with ``$``
  (Windows machine and managed service accounts);
* its shell refuses logins (``/usr/bin/false``, ``/bin/false``, ``…/nologin``);
* its uid is a system uid of its platform: below 500 on macOS, below 1000 on Linux and other Unixes,
  below 1000 on Windows (there the uid is the account's RID: 500 Administrator, 501 Guest,
  503 DefaultAccount, 504 WDAGUtilityAccount, 18-20 SYSTEM / LOCAL SERVICE / NETWORK SERVICE);
  the "nobody" uids (65534, and 4294967294 = -2 as an unsigned int on macOS) too;
* osquery calls it ``special`` (Windows' built-in service identities);
* its name is a well-known built-in, whatever its uid says (``root``, ``daemon``, ``nobody``,
  ``Administrator``, ``Guest``, ``DefaultAccount``, ``WDAGUtilityAccount``, ``defaultuser0``…).

Unknown uids (Fleet sent none) are judged on the other rules. Shared and kiosk accounts are kept:
they are people's accounts, and they match no one in the directory.
"""

from mdm_sync.fleet_types import LocalUser

MAX_ACCOUNTS = 20  # a host with more human accounts than this is a lab machine: the first ones suffice
MAX_NAME = 100

NOLOGIN_SHELLS = ("/usr/bin/false", "/bin/false", "/sbin/nologin", "/usr/sbin/nologin", "/usr/bin/nologin",
                  "/bin/nologin")
NOBODY_UIDS = {65534, 4294967294, 4294967295}
# The first uid of people's accounts, per product platform (devices.models.Platform).
FIRST_HUMAN_UID = {"macos": 500, "linux": 1000, "windows": 1000}
DEFAULT_FIRST_HUMAN_UID = 1000
BUILTIN_ACCOUNTS = {
    # Unix
    "root", "daemon", "nobody", "nfsnobody", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
    "proxy", "www-data", "backup", "list", "irc", "gnats", "systemd-network", "systemd-resolve", "messagebus",
    "syslog", "sshd", "polkitd", "avahi", "gdm", "colord", "operator", "halt", "shutdown",
    # Windows
    "administrator", "administrateur", "guest", "invité", "defaultaccount", "wdagutilityaccount", "defaultuser0",
    "system", "local service", "network service", "krbtgt",
}


def is_human_account(user: LocalUser, *, platform: str) -> bool:
    """True for an account a person logs in with (the rule is in the module's docstring)."""
    name = user.username.strip()
    folded = name.lower()
    if not name or folded.startswith("_") or folded.endswith("$") or folded in BUILTIN_ACCOUNTS:
        return False
    if (user.type or "").strip().lower() == "special":
        return False
    shell = (user.shell or "").strip().lower()
    if shell and shell.endswith(NOLOGIN_SHELLS):
        return False
    first_human_uid = FIRST_HUMAN_UID.get(platform, DEFAULT_FIRST_HUMAN_UID)
    return user.uid is None or (user.uid not in NOBODY_UIDS and user.uid >= first_human_uid)


def human_accounts(users, *, platform: str) -> tuple[str, ...]:
    """The user names of ``users`` (``FleetHost.local_users``) that belong to people: sorted, one per name
    (compared without case), at most :data:`MAX_ACCOUNTS`."""
    names: dict[str, str] = {}
    for user in users:
        if is_human_account(user, platform=platform):
            name = user.username.strip()[:MAX_NAME]
            names.setdefault(name.lower(), name)
    return tuple(sorted(names.values(), key=str.lower))[:MAX_ACCOUNTS]
