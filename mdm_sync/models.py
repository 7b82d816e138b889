from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import decrypt, encrypt
from core.tenancy import TenantModel


class FleetConnection(TenantModel):
    """Where an organization's Fleet server is, and the API token to reach it (encrypted, never shown)."""

    url = models.URLField(max_length=500)
    token_encrypted = models.TextField(editable=False)
    verify_tls = models.BooleanField(default=True, help_text=_("Check Fleet's TLS certificate (keep on)"))
    enabled = models.BooleanField(default=True, help_text=_("Off: the 30-minute sync skips this organization"))
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.CharField(max_length=500, blank=True)
    # Fleet's Apple push (APNs) certificate, read at each sync (``GET /api/v1/fleet/apns``).
    apns_configured = models.BooleanField(
        null=True, blank=True, help_text=_("Fleet has an Apple push certificate; None until a sync has read it")
    )
    apns_expires_at = models.DateTimeField(null=True, blank=True, help_text=_("The APNs certificate's renew date"))
    apns_checked_at = models.DateTimeField(null=True, blank=True, help_text=_("When the sync last read it"))
    apns_error = models.CharField(max_length=500, blank=True, help_text=_("Why the last read failed, if it did"))
    sync_groups_as_labels = models.BooleanField(
        default=True, verbose_name=_("Keep groups as Fleet labels"),
        help_text=_("Each group with enrolled devices is a manual label in Fleet holding exactly those hosts."),
    )

    APNS_WARNING = timedelta(days=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="fleetconnection_one_per_org")]

    def __str__(self):
        return self.url

    def apns_expired(self, now: datetime | None = None) -> bool:
        return bool(self.apns_configured and self.apns_expires_at and self.apns_expires_at <= (now or timezone.now()))

    def apns_expiring_soon(self, now: datetime | None = None) -> bool:
        """Not expired yet, but within 30 days of it: time to renew in Fleet."""
        now = now or timezone.now()
        return bool(self.apns_configured and self.apns_expires_at and not self.apns_expired(now)
                    and self.apns_expires_at - now <= self.APNS_WARNING)

    def __repr__(self):  # the default repr is fine, but make sure no secret ever lands in a log line
        return f"<FleetConnection {self.organization_id} {self.url}>"

    @property
    def token(self) -> str:
        return decrypt(self.token_encrypted)

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = encrypt(value)


class SyncRun(TenantModel):
    """One Fleet sync of one organization: when, why, how it ended and what it did.

    A run holds the organization's ``fleet-sync`` lease (``core.leases``) while it works; a run whose worker died
    is marked ``abandoned`` (``abandoned_at``, and why in ``error``) by the next run, which then proceeds."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        ABANDONED = "abandoned", _("Abandoned")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Cockpit")
        API = "api", _("API")
        COMMAND = "command", _("Command")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    actor_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the next run found this one's lease lapsed (its worker died)")
    )
    pages = models.PositiveIntegerField(default=0)
    hosts_listed = models.PositiveIntegerField(default=0)
    fleet_count = models.PositiveIntegerField(null=True, blank=True, help_text=_("Fleet's own host count"))
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    not_seen = models.PositiveIntegerField(default=0)
    reenrolled = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    follow_ups = models.JSONField(
        default=dict, blank=True, help_text=_("What each after-sync step (mdm_sync.hooks) did, or its error")
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organization", "-started_at"], name="syncrun_org_started")]
        constraints = [models.CheckConstraint(condition=~Q(status="abandoned") | Q(abandoned_at__isnull=False),
                                              name="syncrun_abandoned_has_time")]

    def __str__(self):
        return f"Sync {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class GroupLabel(TenantModel):
    """A group kept as a Fleet manual label whose hosts are the group's enrolled devices (``mdm_sync.labels``).

    ``hosts_digest`` is what Fleet was last told, so a reconcile calls Fleet only for a group whose wanted hosts
    or name differ. A deleted group leaves its row (``group`` null) until Fleet's label is deleted too.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SYNCED = "synced", _("In Fleet")
        FAILED = "failed", _("Failed")

    group = models.OneToOneField("cockpit.Group", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="fleet_label")
    group_name = models.CharField(max_length=150, help_text=_("The group's name when last seen (kept once deleted)"))
    fleet_label_id = models.BigIntegerField(null=True, blank=True, help_text=_("Fleet's label id, once created"))
    label_name = models.CharField(max_length=255, blank=True, help_text=_("The label's name as Fleet has it"))
    hosts_digest = models.CharField(max_length=64, blank=True, help_text=_("sha256 of the host ids Fleet has"))
    host_count = models.PositiveIntegerField(default=0, help_text=_("How many hosts Fleet's label holds"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text=_("Failed attempts in a row"))
    attempted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text=_("When a failed label is retried"))
    lease_until = models.DateTimeField(null=True, blank=True, help_text=_("A worker is talking to Fleet until then"))

    class Meta:
        ordering = ["group_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "fleet_label_id"],
                                    condition=Q(fleet_label_id__isnull=False),
                                    name="grouplabel_unique_fleet_label_per_org"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(last_error=""),
                                   name="grouplabel_failed_has_error"),
            models.CheckConstraint(condition=~Q(status="synced") | Q(synced_at__isnull=False),
                                   name="grouplabel_synced_has_time"),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="grouplabel_org_status")]

    def __str__(self):
        return self.label_name or self.group_name


class DailySnapshot(TenantModel):
    """The organization's fleet as of one day (UTC), for the dashboard's trend charts: device counts by availability
    and assignment, by enrollment status, and that day's Fleet syncs. Written by the nightly ``mdm_sync.tasks``
    job (``mdm_sync.snapshots.daily_snapshot_take``): one row per organization and day, re-taking a day updates
    it. Counts follow the dashboard's rule: archived devices are counted apart, never in a status total."""

    day = models.DateField()
    taken_at = models.DateTimeField(help_text=_("When the counts were read (the last run for the day wins)"))
    devices = models.PositiveIntegerField(default=0, help_text=_("In use or in stock (archived ones not counted)"))
    in_use_assigned = models.PositiveIntegerField(default=0)
    in_stock = models.PositiveIntegerField(default=0)
    in_use_to_assign = models.PositiveIntegerField(default=0)
    archived = models.PositiveIntegerField(default=0)
    awaiting_activation = models.PositiveIntegerField(default=0)
    awaiting_user_assignment = models.PositiveIntegerField(default=0)
    partially_enrolled = models.PositiveIntegerField(default=0)
    enrolled = models.PositiveIntegerField(default=0)
    unenrolled = models.PositiveIntegerField(default=0)
    not_seen_in_fleet = models.PositiveIntegerField(default=0)
    sync_runs = models.PositiveIntegerField(default=0, help_text=_("Fleet syncs started that day (skipped ones aside)"))
    sync_failures = models.PositiveIntegerField(default=0, help_text=_("Of those, failed or abandoned"))
    sync_seconds = models.FloatField(null=True, blank=True, help_text=_("Mean duration of that day's successful syncs"))
    sync_outcome = models.CharField(max_length=10, blank=True, choices=SyncRun.Status.choices,
                                    help_text=_("How the day's last sync ended (empty: none ran)"))

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="dailysnapshot_one_per_org_day")]

    def __str__(self):
        return f"Snapshot {self.day:%Y-%m-%d}"
