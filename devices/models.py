from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.audit import Source
from core.events import stored_reading
from core.models import Employee, Group
from core.tenancy import TenantModel


class Platform(models.TextChoices):
    MACOS = "macos", _("macOS")
    WINDOWS = "windows", _("Windows")
    LINUX = "linux", _("Linux")
    IOS = "ios", _("iOS")
    IPADOS = "ipados", _("iPadOS")
    ANDROID = "android", _("Android")
    CHROMEOS = "chromeos", _("ChromeOS")
    OTHER = "other", _("Other")


DESKTOP_PLATFORMS = {Platform.MACOS, Platform.WINDOWS, Platform.LINUX}


class AvailabilityStatus(models.TextChoices):
    IN_USE = "in_use", _("In use")
    IN_STOCK = "in_stock", _("In stock")
    ARCHIVED = "archived", _("Archived")


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    TO_ASSIGN = "to_assign", _("To assign")


class EnrollmentStatus(models.TextChoices):
    AWAITING_ACTIVATION = "awaiting_activation", _("Awaiting activation")
    AWAITING_USER_ASSIGNMENT = "awaiting_user_assignment", _("Awaiting user assignment")
    PARTIALLY_ENROLLED = "partially_enrolled", _("Partially enrolled")
    ENROLLED = "enrolled", _("Enrolled")
    UNENROLLED = "unenrolled", _("Unenrolled")


class EnrollmentIssue(models.TextChoices):
    ENROLLMENT_INCOMPLETE = "enrollment_incomplete", _("Enrollment incomplete")
    AGENT_MISSING = "agent_missing", _("Agent missing")
    AGENT_INACTIVE = "agent_inactive", _("Agent inactive")
    MDM_PROFILE_MISSING = "mdm_profile_missing", _("MDM profile missing")
    OFFLINE = "offline", _("Offline")
    APNS_CERTIFICATE_EXPIRED = "apns_certificate_expired", _("Apple push certificate expired")
    OTHER_MDM = "other_mdm", _("Managed by another MDM")


class Ownership(models.TextChoices):
    CORPORATE = "corporate", _("Corporate")
    PERSONAL = "personal", _("Personal")


class Usage(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    SHARED = "shared", _("Shared")


# The only (availability, assignment) pairs that exist (DESIGN §3), each with the assignee rule.
# Every branch tests NULLs explicitly: a CHECK whose expression is NULL would let the row through.
ALLOWED_STATUS_PAIRS = (
    Q(availability_status="in_use", assignment_status="assigned", assignment_status__isnull=False,
      assignee__isnull=False)
    | Q(availability_status="in_stock", assignment_status="to_assign", assignment_status__isnull=False,
        assignee__isnull=True)
    | Q(availability_status="in_use", assignment_status="to_assign", assignment_status__isnull=False,
        assignee__isnull=True)
    | Q(availability_status="archived", assignment_status__isnull=True, assignee__isnull=True)
)


class Device(TenantModel):
    # No single-column index: the table's (organization, …) indexes below serve a look-up by organization.
    organization = models.ForeignKey("cockpit.Organization", on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    serial_number = models.CharField(max_length=100, blank=True, db_index=False)
    name = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.OTHER)
    model = models.CharField(max_length=200, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    ownership = models.CharField(max_length=10, choices=Ownership.choices, default=Ownership.CORPORATE)
    usage = models.CharField(max_length=10, choices=Usage.choices, default=Usage.INDIVIDUAL)
    responsible_technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        help_text=_("For shared or kiosk devices: the IT technician who answers for it"),
    )
    notes = models.TextField(blank=True)
    groups = models.ManyToManyField(Group, blank=True, related_name="devices")

    # Availability and assignment (people own these; the sync only puts a device in use at its first enrollment).
    availability_status = models.CharField(
        max_length=10, choices=AvailabilityStatus.choices, default=AvailabilityStatus.IN_STOCK
    )
    assignment_status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, null=True, blank=True, default=AssignmentStatus.TO_ASSIGN
    )
    assignee = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="devices",
                                 db_index=False)
    assigned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    # Enrollment: a status derived from milestones and the issues the last health check found.
    enrollment_status = models.CharField(
        max_length=30, choices=EnrollmentStatus.choices, default=EnrollmentStatus.AWAITING_ACTIVATION
    )
    enrollment_issues = models.JSONField(default=list, blank=True)
    mdm_enrolled_at = models.DateTimeField(null=True, blank=True, help_text=_("Activation: MDM enrollment seen"))
    unenrolled_at = models.DateTimeField(null=True, blank=True)
    auto_unenroll_exempt = models.BooleanField(
        default=False, help_text=_("Legal hold: the auto-unenrollment purge never removes this device")
    )
    auto_assignment_note = models.CharField(
        max_length=255, blank=True, help_text=_("Why enrollment did not assign the device automatically")
    )

    # Fleet identity and the MDM facts of the last sync (owned by mdm_sync; people never edit them).
    fleet_host_id = models.BigIntegerField(null=True, blank=True)
    fleet_uuid = models.CharField(max_length=100, blank=True)
    fleet_hostname = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text=_("The agent's last contact with Fleet"))
    agent_version = models.CharField(max_length=50, blank=True, help_text=_("fleetd (orbit) version; empty: none"))
    osquery_version = models.CharField(max_length=50, blank=True)
    mdm_status = models.CharField(max_length=50, blank=True, help_text=_("Fleet's MDM enrollment status, verbatim"))
    mdm_name = models.CharField(max_length=100, blank=True)
    mdm_device_status = models.CharField(max_length=20, blank=True, help_text=_("unlocked, locked, wiping, wiped…"))
    mdm_pending_action = models.CharField(max_length=20, blank=True)
    fleet_emails = models.JSONField(default=list, blank=True, help_text=_("Fleet's device mapping: [{email, source}]"))
    local_accounts = models.JSONField(
        default=list, blank=True,
        help_text=_("People's local accounts on the host (user names; system accounts left out)")
    )
    fleet_synced_at = models.DateTimeField(null=True, blank=True)
    fleet_missing_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Absent from Fleet's last complete listing (never unassigned for it)")
    )
    fleet_facts_hash = models.CharField(max_length=40, blank=True, editable=False)

    # Optimistic concurrency: bumped by every state change, so a stale form is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=ALLOWED_STATUS_PAIRS, name="device_allowed_status_pairs"),
            models.UniqueConstraint(
                fields=["organization", "serial_number"], condition=~Q(serial_number=""),
                name="device_unique_serial_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "fleet_host_id"], condition=Q(fleet_host_id__isnull=False),
                name="device_unique_fleet_host_per_org",
            ),
        ]
        indexes = [
            # Led by organization (PERF_NOTES): one per filter the inventory and dashboard count on.
            models.Index(fields=["organization", "id"], name="device_org_id"),
            models.Index(
                fields=["organization", "availability_status", "platform", "id"], name="device_org_avail_plat"
            ),
            models.Index(fields=["organization", "assignment_status", "id"], name="device_org_assign"),
            models.Index(fields=["organization", "enrollment_status", "id"], name="device_org_enroll"),
            models.Index(fields=["organization", "platform", "id"], name="device_org_platform"),
            # The people indexes hold only the devices that name one (a stock or synced device names nobody):
            # bulk writes (a first sync, a CSV import) skip them. "= x" and "IN (…)" imply NOT NULL to the planner.
            models.Index(fields=["organization", "assignee"], condition=Q(assignee__isnull=False),
                         name="device_org_assignee"),
            models.Index(fields=["assignee"], condition=Q(assignee__isnull=False), name="device_assignee"),
            models.Index(fields=["responsible_technician"], condition=Q(responsible_technician__isnull=False),
                         name="device_technician"),
            models.Index(fields=["organization", "name"], name="device_org_name"),
            # The sync's last matching resort (Fleet id, then serial, then uuid).
            models.Index(fields=["organization", "fleet_uuid"], condition=~Q(fleet_uuid=""), name="device_org_uuid"),
        ]

    def __str__(self):
        return self.name or self.serial_number or f"Device #{self.pk}"

    @property
    def is_archived(self) -> bool:
        return self.availability_status == AvailabilityStatus.ARCHIVED

    @property
    def expects_agent(self) -> bool:
        """Desktops run fleetd next to the MDM; phones and tablets are managed by the MDM alone."""
        return self.platform in DESKTOP_PLATFORMS

    @property
    def enrollment_issue_choices(self) -> list[tuple[str, str]]:
        known = EnrollmentIssue.values
        return [(code, EnrollmentIssue(code).label) for code in self.enrollment_issues if code in known]


class DeviceHistory(TenantModel):
    """One row per status or owner change of a device, with the state before and after."""

    class Action(models.TextChoices):
        CREATED = "created", _("Added")
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Unassigned")
        REASSIGNED = "reassigned", _("Reassigned")
        RETURNED_TO_STOCK = "returned_to_stock", _("Returned to stock")
        ARCHIVED = "archived", _("Archived")
        RESTORED = "restored", _("Restored")
        UNENROLLED = "unenrolled", _("Unenrolled")
        PUT_IN_USE = "put_in_use", _("Put in use (first enrollment)")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="history")
    action = models.CharField(max_length=20, choices=Action.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    actor_label = models.CharField(max_length=200)
    reason = models.CharField(max_length=500, blank=True)  # in settings.LANGUAGE_CODE, as the API gives it
    reason_phrase = models.JSONField(default=dict, blank=True)  # a service's reason as its code (core.events.Phrase)
    availability_before = models.CharField(max_length=10, blank=True)
    availability_after = models.CharField(max_length=10, blank=True)
    assignment_before = models.CharField(max_length=10, blank=True)
    assignment_after = models.CharField(max_length=10, blank=True)
    assignee_before = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee_after = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    wipe_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "device history"
        indexes = [models.Index(fields=["organization", "device", "-created_at"], name="devicehistory_org_device")]

    def __str__(self):
        return f"{self.device} {self.action}"

    @property
    def readable_reason(self) -> str:
        """The reason in the reader's language when a service gave it (rows written before: the text kept)."""
        return stored_reading(self.reason, self.reason_phrase)


# How many times a command is sent before it fails for good (Fleet down for about a day, with the backoff).
MAX_COMMAND_ATTEMPTS = 6


class DeviceCommand(TenantModel):
    """An MDM command asked for a device: a wipe, or the device's removal from Fleet (DESIGN §4, §8).

    Every path that asks for one (a move with ``wipe``, an archive that also removes the device from Fleet,
    an offboarding decision) creates it in the same transaction as the move, through ``devices.services``;
    ``mdm_sync`` sends it to Fleet after commit and confirms it from a later sync. Lifecycle:

    ``requested`` → ``sent`` (Fleet accepted it) → ``confirmed`` (a later sync saw the host wiped, or gone
    from Fleet / its MDM off), or ``failed`` with Fleet's message. A transient failure (Fleet down) stays
    ``requested`` and is retried with exponential backoff until ``MAX_COMMAND_ATTEMPTS``.

    Hold until wiped: when the organization holds reassigned devices until their wipe is confirmed, a
    reassignment with a wipe returns the device to stock and names ``hand_over_to``; the confirmation
    hands it over (``handed_over_at``), or says in ``hand_over_note`` why it could not.
    """

    class Kind(models.TextChoices):
        WIPE = "wipe", _("Wipe")
        REMOVE = "remove", _("Remove from Fleet")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        SENT = "sent", _("Sent to Fleet")
        CONFIRMED = "confirmed", _("Confirmed")
        FAILED = "failed", _("Failed")

    PENDING = (Status.REQUESTED, Status.SENT)

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    requested_by_label = models.CharField(max_length=200, blank=True)
    fleet_host_id = models.BigIntegerField(null=True, blank=True, help_text=_("The host the command was sent to"))
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, help_text=_("Fleet's message"))
    last_error_phrase = models.JSONField(default=dict, blank=True)  # our framing of it as a code (core.events.Phrase)
    status_at_send = models.CharField(max_length=50, blank=True, help_text=_("The host's state we knew when sending"))
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    hand_over_to = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     help_text=_("Held in stock until the wipe is confirmed, then given to them"))
    handed_over_at = models.DateTimeField(null=True, blank=True)
    hand_over_note = models.CharField(max_length=500, blank=True, help_text=_("Why the hand-over did not happen"))
    hand_over_note_phrase = models.JSONField(default=dict, blank=True)  # the note as its code (core.events.Phrase)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status", "next_attempt_at"], name="devicecommand_org_status"),
            models.Index(fields=["organization", "device", "kind"], name="devicecommand_org_device"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(hand_over_to__isnull=True) | Q(kind="wipe"),
                                   name="devicecommand_hand_over_after_wipe"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.device}"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def readable_last_error(self) -> str:
        """Why it failed, our framing in the reader's language around Fleet's own message, kept verbatim."""
        return stored_reading(self.last_error, self.last_error_phrase)

    @property
    def readable_hand_over_note(self) -> str:
        """Why the hand-over did not happen, in the reader's language."""
        return stored_reading(self.hand_over_note, self.hand_over_note_phrase)

    def audit_event(self, step: str) -> str:
        """``wipe.sent``, ``fleet_removal.confirmed``…: the audit code of a step of this command."""
        return f"{'wipe' if self.kind == self.Kind.WIPE else 'fleet_removal'}.{step}"

    @property
    def awaits_hand_over(self) -> bool:
        return self.hand_over_to_id is not None and self.handed_over_at is None and not self.hand_over_note
