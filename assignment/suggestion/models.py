"""Assignment suggestion models (DESIGN §7), imported by name in ``assignment/models/__init__.py`` (app label
``assignment``, tables ``assignment_suggestion`` and ``assignment_suggestionrun``)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import Employee
from core.tenancy import TenantModel
from devices.models import Device

__all__ = ["Suggestion", "SuggestionRun"]


class Suggestion(TenantModel):
    """"This device is probably ``employee``'s": one employee, a confidence 0–1 and the evidence behind it.

    ``pending`` until an admin (or ``auto`` mode) accepts it (the device is assigned, source
    ``suggestion``) or rejects it (remembered by ``fingerprint``: not proposed again on the same
    evidence); ``superseded`` when the evidence changed, the device was assigned otherwise, became
    shared or archived, or the employee left. At most one pending suggestion per device.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        SUPERSEDED = "superseded", _("Superseded")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="assignment_suggestions")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="assignment_suggestions")
    confidence = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    evidence = models.JSONField(
        default=list, blank=True, help_text=_("[{kind, value, detail, employee_id, employee, active, weight}]")
    )
    evidence_kinds = models.CharField(
        max_length=200, blank=True, editable=False,
        help_text=_("Kinds of the evidence for the suggested employee, comma-framed (“,sso_email,device_name,”)"),
    )
    fingerprint = models.CharField(
        max_length=40, help_text=_("The device, the employee and the facts for them (rejection memory)")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True, help_text=_("Who, as shown at the time"))
    decided_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    automatic = models.BooleanField(default=False, help_text=_("Accepted by auto mode"))
    note = models.CharField(max_length=255, blank=True, help_text=_("Why it was rejected or superseded"))

    class Meta:
        ordering = ["-confidence", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "device"], condition=Q(status="pending"),
                name="suggestion_one_pending_per_device",
            ),
            models.CheckConstraint(condition=Q(confidence__gte=0.0, confidence__lte=1.0),
                                   name="suggestion_confidence_0_1"),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="suggestion_decided_unless_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-confidence", "-id"], name="suggestion_org_queue"),
            models.Index(fields=["organization", "device", "status"], name="suggestion_org_device"),
            models.Index(fields=["organization", "employee", "status"], name="suggestion_org_employee"),
        ]

    def __str__(self):
        return f"{self.device} → {self.employee} ({self.confidence:.0%})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def evidence_for(self) -> list[dict]:
        return [e for e in self.evidence if e.get("employee_id") == self.employee_id]

    @property
    def evidence_against(self) -> list[dict]:
        return [e for e in self.evidence if e.get("employee_id") != self.employee_id]


class SuggestionRun(TenantModel):
    """One scoring run of an organization (STYLE 9): when, what it did, or why it stopped.

    A run holds the organization's ``assignment-suggestion`` lease (``core.leases``: short, renewed by a heartbeat
    while it works), never a long lock. A second run while the first is alive is recorded ``skipped``; a run whose
    worker died is marked ``abandoned`` (``abandoned_at``, why in ``error``) by the next run, which then scores."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        SKIPPED = "skipped", _("Skipped: another run was under way")
        FAILED = "failed", _("Failed")
        ABANDONED = "abandoned", _("Abandoned: its worker stopped")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        SYNC = "sync", _("After a sync")
        MANUAL = "manual", _("Started by a person")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    mode = models.CharField(max_length=10, help_text=_("The organization's suggestion mode when the run started"))
    actor_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the next run found this one's lease lapsed (its worker died)")
    )
    counts = models.JSONField(default=dict, blank=True, help_text=_("{created, updated, superseded, auto_assigned, …}"))
    error = models.CharField(max_length=1000, blank=True, help_text=_("Why it failed, was skipped or abandoned"))

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organization", "-started_at"], name="suggestionrun_org_started")]
        constraints = [
            models.CheckConstraint(condition=~Q(status="abandoned") | Q(abandoned_at__isnull=False),
                                   name="suggestionrun_abandoned_has_time"),
            models.CheckConstraint(condition=Q(status="running") | Q(finished_at__isnull=False)
                                   | Q(status="abandoned"), name="suggestionrun_finished_unless_running"),
        ]

    def __str__(self):
        return f"Suggestion run {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None
