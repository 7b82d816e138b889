"""Reads of assignment suggestion: the facts the scorer needs, loaded in bulk, and the review lists.

:func:`suggestion_facts` loads everything one scoring run needs in a fixed number of queries,
whatever the number of devices and employees: the devices that may get a suggestion (with their
previous owner from a correlated subquery), the directory, the fingerprints of rejected
suggestions and the employees whose offboarding is under way (never proposed, ``devices.rules``).
The scorer then works in memory (``assignment.suggestion.scoring``).
"""

from dataclasses import dataclass, field

from django.db.models import OuterRef, Q, Subquery

from assignment.suggestion.models import Suggestion, SuggestionRun
from assignment.suggestion.scoring import DeviceFacts, Directory, Person, Score, score_devices
from core.models import Employee
from core.selectors import employees_leaving
from devices import rules
from devices.models import AvailabilityStatus, Device, DeviceHistory, Usage

CHUNK = 2000


def suggestable_devices(*, organization):
    """Devices a suggestion may be made for: not archived, not shared (kiosk), nobody assigned."""
    return (
        Device.objects.for_org(organization)
        .filter(assignee__isnull=True)
        .exclude(availability_status=AvailabilityStatus.ARCHIVED)
        .exclude(usage=Usage.SHARED)
    )


def _still_valid():
    """A pending suggestion whose device and employee still allow it (stale ones disappear at once)."""
    return (
        Q(device__assignee__isnull=True, employee__status=Employee.Status.ACTIVE)
        & ~Q(device__availability_status=AvailabilityStatus.ARCHIVED)
        & ~Q(device__usage=Usage.SHARED)
    )


@dataclass
class SuggestionFacts:
    devices: list[DeviceFacts]
    directory: Directory
    rejected: dict[int, set[str]]
    labels: dict[int, str]  # device id → what the cockpit calls it
    platforms: dict[int, str] = field(default_factory=dict)  # device id → platform
    leaving: dict[int, str] = field(default_factory=dict)  # employee id → why they are leaving


def _device_facts(organization) -> tuple[list[DeviceFacts], dict[int, str], dict[int, str]]:
    previous_owner = (
        DeviceHistory.objects.filter(organization=organization, device=OuterRef("pk"), assignee_before__isnull=False)
        .order_by("-created_at", "-id")
        .values("assignee_before")[:1]
    )
    rows = (
        suggestable_devices(organization=organization)
        .annotate(previous_owner_id=Subquery(previous_owner))
        .order_by("id")
        .values_list("id", "name", "fleet_hostname", "serial_number", "fleet_emails", "local_accounts",
                     "previous_owner_id", "platform")
    )
    devices, labels, platforms = [], {}, {}
    for pk, name, hostname, serial, emails, accounts, previous, platform in rows.iterator(chunk_size=CHUNK):
        mapped = tuple(
            (str(item.get("email") or ""), str(item.get("source") or ""))
            for item in (emails or []) if isinstance(item, dict) and item.get("email")
        )
        # People's local accounts as the sync keeps them (system accounts already left out, mdm_sync.accounts);
        # the scorer matches them with directory user names, case and a ``DOMAIN\`` prefix aside.
        local = tuple(account for account in accounts or () if isinstance(account, str) and account)
        devices.append(DeviceFacts(pk, name, hostname, mapped, local, previous))
        labels[pk] = name or serial or f"Device #{pk}"
        platforms[pk] = platform
    return devices, labels, platforms


def suggestion_directory(*, organization) -> Directory:
    """Every employee (offboarded ones too: their e-mails count against the others, never for them)."""
    rows = Employee.objects.for_org(organization).order_by().values_list(
        "id", "email", "full_name", "username", "status"
    )
    return Directory(
        Person(pk, email, full_name, username, status == Employee.Status.ACTIVE,
               f"{full_name} <{email}>" if full_name else email)
        for pk, email, full_name, username, status in rows.iterator(chunk_size=CHUNK)
    )


def rejected_fingerprints(*, organization) -> dict[int, set[str]]:
    rejected: dict[int, set[str]] = {}
    rows = Suggestion.objects.for_org(organization).filter(status=Suggestion.Status.REJECTED).order_by()
    for device_id, mark in rows.values_list("device_id", "fingerprint").iterator(chunk_size=CHUNK):
        rejected.setdefault(device_id, set()).add(mark)
    return rejected


def suggestion_facts(*, organization) -> SuggestionFacts:
    """What one scoring run needs, in four queries (plus chunk fetches on PostgreSQL's server-side cursors)."""
    devices, labels, platforms = _device_facts(organization)
    return SuggestionFacts(devices, suggestion_directory(organization=organization),
                           rejected_fingerprints(organization=organization), labels, platforms,
                           employees_leaving(organization=organization))


def suggestion_scores(*, organization, facts: SuggestionFacts | None = None) -> dict[int, Score]:
    """{device id: score} for every suggestable device the facts point to someone for (nothing written);
    an employee whose offboarding is under way is never the one proposed."""
    facts = facts or suggestion_facts(organization=organization)
    return score_devices(facts.devices, facts.directory, facts.rejected, excluded=frozenset(facts.leaving))


@dataclass(frozen=True)
class PreviewRow:
    device_id: int
    device: str
    employee_id: int
    employee: str
    confidence: float
    kinds: list[str]
    held: str = ""  # why auto mode leaves it to a person ("" when it would assign it)


@dataclass(frozen=True)
class AutoModePreview:
    assign: list[PreviewRow]  # what auto mode would assign
    held: list[PreviewRow]  # confident enough, but left to a person (phones and tablets), each with the reason

    def __iter__(self):  # iterated or counted, it is what auto mode would assign (as the preview used to be)
        return iter(self.assign)

    def __len__(self):
        return len(self.assign)


def auto_mode_preview(*, organization, threshold: float | None = None) -> AutoModePreview:
    """What ``auto`` mode would do now: the unassigned devices whose suggestion reaches the threshold, those it
    would assign apart from those it leaves to a person (``devices.rules``: phones and tablets)."""
    threshold = organization.suggestion_confidence_threshold if threshold is None else threshold
    facts = suggestion_facts(organization=organization)
    scores = suggestion_scores(organization=organization, facts=facts)
    rows = sorted((
        PreviewRow(score.device_id, facts.labels[score.device_id], score.employee_id,
                   facts.directory.people[score.employee_id].label, score.confidence, score.kinds,
                   rules.platform_hold_reason(facts.platforms[score.device_id]))
        for score in scores.values() if score.confidence >= threshold
    ), key=lambda row: (-row.confidence, row.device.lower(), row.device_id))
    return AutoModePreview([row for row in rows if not row.held], [row for row in rows if row.held])


def suggestion_queryset(*, organization):
    """Suggestions with their device and employee; pending ones whose device or employee no longer allows
    them (assigned otherwise, archived, shared, offboarded, offboarding under way) are left out until the next
    run supersedes them."""
    queryset = (
        Suggestion.objects.for_org(organization)
        .select_related("device", "employee")
        .filter(~Q(status=Suggestion.Status.PENDING) | _still_valid())
    )
    leaving = employees_leaving(organization=organization) if organization is not None else {}
    if leaving:
        queryset = queryset.exclude(status=Suggestion.Status.PENDING, employee_id__in=sorted(leaving))
    return queryset


def pending_suggestion_for_device(*, organization, device) -> Suggestion | None:
    return (
        suggestion_queryset(organization=organization)
        .filter(device=device, status=Suggestion.Status.PENDING)
        .first()
    )


def pending_suggestion_count(*, organization) -> int:
    return suggestion_queryset(organization=organization).filter(status=Suggestion.Status.PENDING).count()


def suggestion_runs(*, organization):
    """The organization's scoring runs, newest first (running, succeeded, skipped, failed, abandoned)."""
    return SuggestionRun.objects.for_org(organization).order_by("-started_at", "-id")
