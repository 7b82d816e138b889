"""Enrollment: invitations, employee sign-in, installer downloads, the enroll secret, auto-unenrollment runs."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.crypto import decrypt, encrypt
from core.models import Employee
from core.tenancy import TenantModel
from devices.models import Device


class EnrollmentSettings(TenantModel):
    """What the installers carry besides the Fleet URL: the enroll secret (encrypted, never shown) and
    where the organization's fleetd packages are downloaded from."""

    enroll_secret_encrypted = models.TextField(blank=True, editable=False)
    fleet_url = models.URLField(
        max_length=500, blank=True,
        help_text=_("The Fleet URL agents enroll against; empty: the URL of the Fleet connection"),
    )
    package_url_macos = models.URLField(max_length=500, blank=True, help_text=_("fleetd .pkg for macOS"))
    package_url_windows = models.URLField(max_length=500, blank=True, help_text=_("fleetd .msi for Windows"))
    package_url_linux = models.URLField(max_length=500, blank=True, help_text=_("fleetd .deb for Linux"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="enrollmentsettings_one_per_org")]

    def __str__(self):
        return f"Enrollment settings of {self.organization_id}"

    def __repr__(self):
        return f"<EnrollmentSettings {self.organization_id}>"

    @property
    def has_enroll_secret(self) -> bool:
        return bool(self.enroll_secret_encrypted)

    @property
    def enroll_secret(self) -> str:
        return decrypt(self.enroll_secret_encrypted) if self.enroll_secret_encrypted else ""

    @enroll_secret.setter
    def enroll_secret(self, value: str) -> None:
        self.enroll_secret_encrypted = encrypt(value) if value else ""


class InvitationBatch(TenantModel):
    """A bulk send (invite all not enrolled, a large selection, fix instructions for many devices) sent by Celery
    tasks, one chunk after the other. Its invitations point to it: a redelivered chunk skips whoever already has
    one, and the cockpit counts them to show the progress.

    The chunk being sent holds the batch's lease (``core.leases``, renewed by a heartbeat) and queues the next chunk
    when it is done. A worker killed mid-chunk stops renewing; once the lease lapsed, the periodic sweep
    (``enrollment.services.batches.batches_sweep``) queues the first chunk not done again (``resumed``), and marks
    the batch ``abandoned`` (when, and why in ``message``) if nothing finishes after it was picked up a few times."""

    class Kind(models.TextChoices):
        INVITATIONS = "invitations", _("Invitations")
        FIX_INSTRUCTIONS = "fix_instructions", _("Fix instructions")

    class Status(models.TextChoices):
        RUNNING = "running", _("Sending")
        FINISHED = "finished", _("Sent")
        ABANDONED = "abandoned", _("Abandoned")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(help_text=_("Employees (or devices) queued"))
    chunks = models.PositiveIntegerField()
    chunks_done = models.JSONField(default=list, blank=True, help_text=_("Indexes of the chunks that finished"))
    skipped = models.PositiveIntegerField(default=0, help_text=_("Offboarded or nothing to send when their turn came"))
    requested_by = models.CharField(max_length=200)
    finished_at = models.DateTimeField(null=True, blank=True)
    item_ids = models.JSONField(default=list, blank=True,
                                help_text=_("The employee (or device) ids queued, in chunk order: a chunk is queued "
                                          "again from them"))
    task_args = models.JSONField(default=dict, blank=True,
                                 help_text=_("{task, actor, extra}: how its chunk tasks are queued"))
    progress_at = models.DateTimeField(null=True, blank=True,
                                       help_text=_("When it was queued or a chunk last finished"))
    resumed = models.PositiveSmallIntegerField(
        default=0, help_text=_("Times the sweep queued a chunk again since a chunk last finished"))
    resumed_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True, help_text=_("Why it was picked up again or abandoned"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "kind", "-created_at"], name="invitationbatch_org_kind"),
            models.Index(fields=["status"], condition=Q(status="running"), name="invitationbatch_running"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(status="abandoned") | Q(abandoned_at__isnull=False),
                                   name="invitationbatch_abandoned_has_time"),
            models.CheckConstraint(condition=~Q(status="finished") | Q(finished_at__isnull=False),
                                   name="invitationbatch_finished_has_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.total} queued {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def next_chunk(self) -> int | None:
        """The first chunk not done yet (None when every chunk is done)."""
        done = set(self.chunks_done)
        return next((index for index in range(self.chunks) if index not in done), None)


class Invitation(TenantModel):
    """One e-mail sent to an employee about enrollment: an invitation, a re-sent one, or fix instructions."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REINVITATION = "reinvitation", _("Invitation resent")
        FIX_INSTRUCTIONS = "fix_instructions", _("Fix instructions")

    class Reason(models.TextChoices):
        MANUAL = "manual", _("Sent from the cockpit")
        API = "api", _("Sent by the API")
        ON_CREATE = "on_create", _("Sent when HR created the employee")
        AUTO_UNENROLL = "auto_unenroll", _("Device purged by auto-unenrollment")
        TROUBLESHOOTING = "troubleshooting", _("Troubleshooting")

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    sent_by = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, help_text=_("The address it went to"))
    detail = models.CharField(max_length=255, blank=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text=_("The employee signed in after it"))
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text=_("Fix instructions: the device they are about"))
    batch = models.ForeignKey(InvitationBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="invitations")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "employee", "-created_at"], name="invitation_org_employee")]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.email}"


class SignInToken(TenantModel):
    """A one-time sign-in code and link for the enrollment page. Only hashes are stored."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    link_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["organization", "employee", "expires_at"], name="signintoken_org_employee")]

    def __str__(self):
        return f"Sign-in of {self.employee_id} until {self.expires_at:%H:%M}"


class InstallerDownload(TenantModel):
    """An installer an employee downloaded (DESIGN §5.3): who, which platform and format, built how."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="installer_downloads")
    platform = models.CharField(max_length=10)
    format = models.CharField(max_length=20)
    backend = models.CharField(max_length=20)
    filename = models.CharField(max_length=200)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "employee", "-created_at"], name="download_org_employee")]

    def __str__(self):
        return f"{self.filename} for {self.employee_id}"


class AutoUnenrollRun(TenantModel):
    """One auto-unenrollment run (DESIGN §9): what it found, what it did, or why it stopped.

    A run that purges is recorded ``running`` before its first Fleet call and keeps its progress (purged, failed)
    as it goes, holding the organization's ``auto-unenroll`` lease (``core.leases``); a run whose worker died is
    marked ``abandoned`` (``abandoned_at``, why in ``message``) by the next run, which purges what is left."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Purging…")
        SUCCEEDED = "succeeded", _("Purged")
        NOTHING = "nothing", _("Nothing to purge")
        STALE_SYNC = "stale_sync", _("Skipped: the last sync is too old")
        BLOCKED = "blocked", _("Stopped: too many devices, an admin must confirm")
        CONFIRMED = "confirmed", _("Confirmed by an admin and purged")
        FAILED = "failed", _("Failed")
        ABANDONED = "abandoned", _("Abandoned: its worker stopped")

    status = models.CharField(max_length=12, choices=Status.choices)
    actor_label = models.CharField(max_length=200)
    finished_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the next run found this one's lease lapsed (its worker died)")
    )
    threshold_days = models.PositiveSmallIntegerField()
    enrolled_count = models.PositiveIntegerField(default=0)
    candidate_ids = models.JSONField(default=list, blank=True)
    purged_ids = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=dict, blank=True, help_text=_("{device id: Fleet's answer}"))
    reinvited = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text=_("A blocked run an admin then confirmed"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="autounenroll_org_created")]
        constraints = [models.CheckConstraint(condition=~Q(status="abandoned") | Q(abandoned_at__isnull=False),
                                              name="autounenroll_abandoned_has_time")]

    def __str__(self):
        return f"Auto-unenrollment {self.created_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def share_percent(self) -> float:
        return round(100 * len(self.candidate_ids) / self.enrolled_count, 1) if self.enrolled_count else 0.0
