"""The assignment-suggestion scorer (DESIGN §7): pure functions over facts already in memory, no database.

Each MDM fact of a device that names an employee of the directory is a piece of **evidence** with a
weight (how much that kind of fact alone says "this is their device"). Per candidate employee the
weights combine as independent hints (``1 - Π(1 - w)``, one piece per kind: a name matched by the
device name and by its hostname is one hint, not two). The best candidate's support is then
lowered by the combined support of every other person the facts point to, offboarded ones included::

    confidence = support(best) × (1 - support(everyone else))

So an SSO sign-in alone gives 0.9, SSO + installer 0.97, SSO for Ada with a browser profile of Bob
0.54, SSO for Ada with Bob's installer 0.27. Offboarded employees are never suggested, nor are those whose
offboarding is under way (``excluded``: their evidence counts against the others, never for them); a previous
owner only supports other evidence (alone it proposes nothing: the device was taken from them);
a suggestion an admin rejected is not proposed again while the evidence for that person is the same
(its fingerprint), and the next candidate is considered instead.

The caller (``assignment.suggestion.selectors``) loads the facts of every device to score and the
directory once, builds a :class:`Directory`, then calls :func:`score_device` per device: the work
per device is a few dictionary look-ups, never a pass over the employees.
"""

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import permutations

from django.utils.translation import gettext_lazy

from mdm_sync.fleet import BROWSER_SOURCES, is_sso_source


class Kind:
    """Evidence kinds, their weight and how the cockpit names them."""

    SSO_EMAIL = "sso_email"
    INSTALLER_EMAIL = "installer_email"
    BROWSER_PROFILE_EMAIL = "browser_profile_email"
    OTHER_EMAIL = "other_email"
    LOCAL_ACCOUNT = "local_account"
    DEVICE_NAME = "device_name"
    PREVIOUS_OWNER = "previous_owner"


KIND_LABELS = {
    Kind.SSO_EMAIL: gettext_lazy("SSO / identity provider e-mail"),
    Kind.INSTALLER_EMAIL: gettext_lazy("Installer e-mail"),
    Kind.BROWSER_PROFILE_EMAIL: gettext_lazy("Browser profile e-mail"),
    Kind.OTHER_EMAIL: gettext_lazy("Other e-mail seen by Fleet"),
    Kind.LOCAL_ACCOUNT: gettext_lazy("Local account = directory user name"),
    Kind.DEVICE_NAME: gettext_lazy("Device name"),
    Kind.PREVIOUS_OWNER: gettext_lazy("Previous owner"),
}

WEIGHTS = {
    Kind.SSO_EMAIL: 0.9,  # signed in through the IdP on this device: the strongest fact there is
    Kind.INSTALLER_EMAIL: 0.7,  # the user-specific installer carried this e-mail (could be run by IT)
    Kind.LOCAL_ACCOUNT: 0.6,  # a local account named like the directory user
    Kind.BROWSER_PROFILE_EMAIL: 0.4,  # a browser profile: colleagues sign in on each other's machines
    Kind.OTHER_EMAIL: 0.3,  # a mapping whose source Fleet does not explain (custom_override…)
    Kind.PREVIOUS_OWNER: 0.3,  # supports; never proposes alone
}
# Device name matches, by how precise the match is.
NAME_WEIGHTS = {"full name": 0.45, "user name": 0.45, "first name": 0.25}

# Below this, a "suggestion" is noise and is not stored.
MIN_CONFIDENCE = 0.2

# Local accounts every machine has; they say nothing about a person.
SYSTEM_ACCOUNTS = {
    "root", "admin", "administrator", "administrateur", "guest", "invité", "daemon", "nobody", "user", "test",
    "defaultaccount", "wdagutilityaccount", "defaultuser0", "support", "it", "localadmin", "ubuntu", "pi",
}
MAX_NAME_WORDS = 8  # a device name longer than this is not a person's name plus a model
MIN_TOKEN = 3  # shorter name or user-name tokens ("li", "al") match too much
# Words of device names that are never a person's user name, whatever the directory says.
DEVICE_WORDS = {
    "macbook", "pro", "air", "mac", "mini", "imac", "iphone", "ipad", "laptop", "desktop", "local", "lan", "mbp",
    "mba", "win", "windows", "linux", "ubuntu", "android", "pixel", "galaxy", "chromebook", "surface", "thinkpad",
    "latitude", "dell", "lenovo", "corp", "home", "office", "kiosk", "shared", "new", "old", "dev", "test",
}


def email_kind(source: str) -> str:
    """Fleet's device-mapping source → evidence kind (FLEET_API.md: any ``custom_*`` shows as ``custom``)."""
    if is_sso_source(source):
        return Kind.SSO_EMAIL
    # Only the installer's own sources: another ``custom_*`` (an admin's override) is weaker evidence here,
    # although enrollment's first check (``is_installer_source``) accepts any custom mapping.
    if (source or "").strip().lower() in {"custom", "custom_installer"}:
        return Kind.INSTALLER_EMAIL
    if (source or "").strip().lower() in BROWSER_SOURCES:
        return Kind.BROWSER_PROFILE_EMAIL
    return Kind.OTHER_EMAIL


# --- text normalisation ---------------------------------------------------------------------------------

_POSSESSIVE = re.compile(r"^\s*([^\W\d_]+)['’`]s\b", re.UNICODE)
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents: "Zoë Éluard" → "zoe eluard"."""
    if not text or text.isascii():
        return (text or "").lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(text: str) -> list[str]:
    """Words of a device or person name: "Ada's MacBook-Pro.local" → ["ada", "s", "macbook", "pro", "local"]."""
    return [t for t in _TOKEN_SPLIT.split(fold(text)) if t]


def possessive_first_name(device_name: str) -> str:
    """The owner's first name in Apple's default device names ("Ada's MacBook Pro"), or ""."""
    match = _POSSESSIVE.match(fold(device_name))
    return match.group(1) if match else ""


def local_username(name: str) -> str:
    """``CORP\\ada`` or ``ada@corp`` → ``ada``; system accounts and ``_service`` accounts → ""."""
    name = fold(name).strip()
    name = name.rsplit("\\", 1)[-1].split("@", 1)[0]
    if not name or name.startswith("_") or name in SYSTEM_ACCOUNTS or name.endswith("$"):
        return ""
    return name


# --- inputs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str
    full_name: str = ""
    username: str = ""
    active: bool = True
    label: str = ""  # shown in the evidence ("Ada Lovelace <ada@acme.test>")


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    device_id: int
    name: str = ""
    hostname: str = ""
    emails: tuple[tuple[str, str], ...] = ()  # Fleet device mapping: (email, source)
    local_users: tuple[str, ...] = ()
    previous_owner_id: int | None = None


class Directory:
    """The organization's employees indexed by e-mail, user name and name tokens (built once per run)."""

    def __init__(self, people: Iterable[Person]):
        self.people: dict[int, Person] = {}
        self.by_email: dict[str, int] = {}
        self.by_username: dict[str, set[int]] = defaultdict(set)
        self.by_name_pair: dict[tuple[str, str], set[int]] = defaultdict(set)  # (first, last) word of the name
        self.name_tokens: dict[int, tuple[str, ...]] = {}
        self.by_joined_name: dict[str, set[int]] = defaultdict(set)  # "adalovelace", "alovelace"
        self.by_first_name: dict[str, set[int]] = defaultdict(set)
        for person in people:
            self.people[person.id] = person
            if person.email:
                self.by_email[person.email.strip().lower()] = person.id
            if not person.active:
                continue  # names and user names of leavers are noise: only their e-mails count (against)
            username = local_username(person.username)
            if len(username) >= MIN_TOKEN:
                self.by_username[username].add(person.id)
            words = [t for t in tokens(person.full_name) if len(t) >= 2]
            if len(words) >= 2:
                self.name_tokens[person.id] = tuple(words)
                self.by_name_pair[(words[0], words[-1])].add(person.id)
                self.by_joined_name["".join(words)].add(person.id)
                self.by_joined_name[words[0][0] + words[-1]].add(person.id)
                self.by_joined_name[words[0] + words[-1]].add(person.id)
            if words:
                self.by_first_name[words[0]].add(person.id)

    def person(self, person_id: int | None) -> Person | None:
        return self.people.get(person_id) if person_id is not None else None


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    value: str
    employee_id: int
    weight: float
    detail: str = ""

    def as_dict(self, directory: Directory) -> dict:
        person = directory.people[self.employee_id]
        return {
            "kind": self.kind, "value": self.value, "detail": self.detail, "employee_id": self.employee_id,
            "employee": person.label or person.email, "active": person.active, "weight": self.weight,
        }


@dataclass(frozen=True)
class Score:
    device_id: int
    employee_id: int
    confidence: float
    fingerprint: str
    evidence: list[dict] = field(default_factory=list)  # every piece, for and against, strongest first

    @property
    def kinds(self) -> list[str]:
        """Kinds of the evidence that supports the suggested employee."""
        return sorted({e["kind"] for e in self.evidence if e["employee_id"] == self.employee_id})


# --- evidence -------------------------------------------------------------------------------------------


def _name_evidence(value: str, directory: Directory) -> list[Evidence]:
    words = tokens(value)
    if not words:
        return []
    found: dict[int, tuple[float, str]] = {}

    def hit(person_id: int, how: str) -> None:
        weight = NAME_WEIGHTS[how]
        if weight > found.get(person_id, (0.0, ""))[0]:
            found[person_id] = (weight, how)

    present = set(words[:MAX_NAME_WORDS])
    # Pairs of the name's words, in either order ("LOVELACE Ada"): a few look-ups, whatever the directory's size.
    for pair in permutations(present, 2):
        for person_id in directory.by_name_pair.get(pair, ()):
            if set(directory.name_tokens[person_id]) <= present:
                hit(person_id, "full name")
    for word in present:
        if len(word) >= MIN_TOKEN and word not in DEVICE_WORDS:
            for person_id in directory.by_username.get(word, ()):
                hit(person_id, "user name")
            for person_id in directory.by_joined_name.get(word, ()):
                hit(person_id, "full name")
    first = possessive_first_name(value)
    owners = directory.by_first_name.get(first, set()) if len(first) >= MIN_TOKEN else set()
    if len(owners) == 1:  # "Ada's MacBook Pro" names one person only when one Ada works here
        hit(next(iter(owners)), "first name")
    return [Evidence(Kind.DEVICE_NAME, value, pid, weight, how) for pid, (weight, how) in found.items()]


def gather_evidence(facts: DeviceFacts, directory: Directory) -> list[Evidence]:
    """Every fact of the device that names someone of the directory."""
    evidence: list[Evidence] = []
    for email, source in facts.emails:
        person_id = directory.by_email.get((email or "").strip().lower())
        if person_id is not None:
            kind = email_kind(source)
            evidence.append(Evidence(kind, email.strip().lower(), person_id, WEIGHTS[kind], source))
    for account in facts.local_users:
        username = local_username(account)
        for person_id in directory.by_username.get(username, ()) if len(username) >= MIN_TOKEN else ():
            evidence.append(Evidence(Kind.LOCAL_ACCOUNT, account, person_id, WEIGHTS[Kind.LOCAL_ACCOUNT]))
    names = {facts.name.strip(), facts.hostname.strip()} - {""}
    for value in sorted(names):
        evidence.extend(_name_evidence(value, directory))
    previous = directory.person(facts.previous_owner_id)
    if previous is not None and previous.active:
        evidence.append(Evidence(Kind.PREVIOUS_OWNER, previous.email, previous.id, WEIGHTS[Kind.PREVIOUS_OWNER]))
    return evidence


def fingerprint(device_id: int, employee_id: int, evidence: Iterable[Evidence]) -> str:
    """What a rejection remembers: the device, the person and the facts pointing to them (not the weights)."""
    facts = sorted({(e.kind, e.value.lower()) for e in evidence if e.employee_id == employee_id})
    payload = json.dumps([device_id, employee_id, facts], separators=(",", ":"))
    return hashlib.sha1(payload.encode(), usedforsecurity=False).hexdigest()


def _support(pieces: Iterable[Evidence]) -> float:
    """Independent hints combined, one (the strongest) per kind."""
    strongest: dict[str, float] = {}
    for piece in pieces:
        strongest[piece.kind] = max(strongest.get(piece.kind, 0.0), piece.weight)
    doubt = 1.0
    for weight in strongest.values():
        doubt *= 1.0 - weight
    return 1.0 - doubt


def score_device(facts: DeviceFacts, directory: Directory, *, rejected: frozenset[str] | set[str] = frozenset(),
                 min_confidence: float = MIN_CONFIDENCE, excluded=frozenset()) -> Score | None:
    """The one employee this device's facts point to, with a confidence and the evidence; or None.

    ``rejected``: fingerprints of this device's rejected suggestions; a candidate whose evidence
    still has that fingerprint is skipped (its evidence keeps counting against the others).
    ``excluded``: ids of employees never proposed (leavers); their evidence counts against the others.
    """
    evidence = gather_evidence(facts, directory)
    if not evidence:
        return None
    by_person: dict[int, list[Evidence]] = defaultdict(list)
    for piece in evidence:
        by_person[piece.employee_id].append(piece)
    support = {pid: _support(pieces) for pid, pieces in by_person.items()}
    candidates = sorted(
        (pid for pid, pieces in by_person.items()
         if directory.people[pid].active and pid not in excluded
         and any(p.kind != Kind.PREVIOUS_OWNER for p in pieces)),
        key=lambda pid: (-support[pid], pid),
    )
    for index, pid in enumerate(candidates):
        rival = candidates[index + 1] if index + 1 < len(candidates) else None
        if rival is not None and support[rival] == support[pid]:
            return None  # a tie names nobody; the evidence is there for an admin on the device page
        mark = fingerprint(facts.device_id, pid, by_person[pid])
        if mark in rejected:
            continue
        doubt = 1.0
        for other, value in support.items():
            if other != pid:
                doubt *= 1.0 - value
        confidence = round(support[pid] * doubt, 4)
        if confidence < min_confidence:
            return None
        ordered = sorted(evidence, key=lambda e: (e.employee_id != pid, -e.weight, e.kind, e.value))
        return Score(facts.device_id, pid, confidence, mark, [e.as_dict(directory) for e in ordered])
    return None


def score_devices(devices: Iterable[DeviceFacts], directory: Directory,
                  rejected: dict[int, set[str]] | None = None, excluded=frozenset()) -> dict[int, Score]:
    """:func:`score_device` over many devices; returns {device id: score} for those with a suggestion."""
    rejected = rejected or {}
    scores = {}
    for facts in devices:
        score = score_device(facts, directory, rejected=rejected.get(facts.device_id, frozenset()),
                             excluded=excluded)
        if score is not None:
            scores[facts.device_id] = score
    return scores
