"""Offboarding (DESIGN §8): a case per leaver, one decision per device, and the wipes it sent to Fleet.

Lifecycles are a status plus a timestamp per milestone:

* ``Offboarding``: ``draft`` → ``scheduled`` (effective date in the future) → ``completed``, or
  ``cancelled`` from draft or scheduled. At most one open (draft or scheduled) case per employee.
* ``OffboardingDevice``: ``pending`` → ``applied``, or ``awaiting_wipe`` (the organization holds a
  reassigned device until its wipe is confirmed) → ``applied`` when the sync confirms the wipe, or
  ``skipped`` (the device left the employee before completion) / ``hold_failed`` (the held device
  could not go to its new owner when the wipe was confirmed; the note says why).

A decision's wipe is a ``devices.models.DeviceCommand`` (``wipe_command``): the one wipe pathway every
device move uses, sent and confirmed by ``mdm_sync``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.events import stored_reading
from core.models import ApiToken, Employee
from core.tenancy import TenantModel
from devices.models import Device, DeviceCommand


class DeviceAction(models.TextChoices):
    RETURN_TO_STOCK = "return_to_stock", _("Return to stock")
    REMOVE_FROM_FLEET = "remove_from_fleet", _("Remove from the fleet (archive)")
    REASSIGN = "reassign", _("Reassign")


# Wipe is recommended when the device goes to someone else or back on the shelf (DESIGN §8).
WIPE_BY_DEFAULT = {DeviceAction.RETURN_TO_STOCK: True, DeviceAction.REMOVE_FROM_FLEET: False,
                   DeviceAction.REASSIGN: True}


class Offboarding(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", pgettext_lazy("offboarding status", "Cancelled")  # le départ: masculine

    class Origin(models.TextChoices):
        COCKPIT = "cockpit", _("Cockpit")
        API = "api", _("HR API")
        SCHEDULE = "schedule", _("Scheduled (end date)")

    OPEN = (Status.DRAFT, Status.SCHEDULED)

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="offboardings")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    effective_date = models.DateField(null=True, blank=True, help_text=_("Empty: complete as soon as confirmed"))
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.COCKPIT)
    started_by_label = models.CharField(max_length=200)
    started_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    idempotency_key = models.CharField(max_length=128, blank=True,
                                       help_text=_("HR API: the same request again answers this case"))
    scheduled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by_label = models.CharField(max_length=200, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    cancel_reason_phrase = models.JSONField(default=dict, blank=True)  # a service's reason as its code (Phrase)
    last_error = models.CharField(max_length=500, blank=True,
                                  help_text=_("Why the scheduled job could not complete it (it tries again daily)"))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "employee"], condition=Q(status__in=["draft", "scheduled"]),
                name="offboarding_one_open_case_per_employee",
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="offboarding_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(effective_date__isnull=False),
                name="offboarding_scheduled_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="offboarding_completed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "effective_date"], name="offboarding_org_status_date"),
            models.Index(fields=["status", "effective_date"], name="offboarding_due"),
        ]

    def __str__(self):
        return f"Offboarding of {self.employee}"

    @property
    def readable_cancel_reason(self) -> str:
        """Why it was cancelled, in the reader's language when a service gave the reason."""
        return stored_reading(self.cancel_reason, self.cancel_reason_phrase)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class OffboardingDevice(TenantModel):
    """The decision for one device the leaver holds."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        AWAITING_WIPE = "awaiting_wipe", _("Awaiting wipe")
        SKIPPED = "skipped", _("Skipped")
        HOLD_FAILED = "hold_failed", _("Could not be handed over")

    offboarding = models.ForeignKey(Offboarding, on_delete=models.CASCADE, related_name="decisions")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="offboarding_decisions")
    action = models.CharField(max_length=20, choices=DeviceAction.choices)
    reassign_to = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    wipe = models.BooleanField(default=False)
    by_default = models.BooleanField(default=False, help_text=_("Filled by the organization's default decision"))
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.PENDING)
    applied_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    note_phrase = models.JSONField(default=dict, blank=True)  # the note as its code (core.events.Phrase)
    wipe_command = models.OneToOneField(DeviceCommand, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="offboarding_decision")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["offboarding", "device"], name="offboardingdevice_unique_device"),
            models.CheckConstraint(
                condition=(Q(action="reassign") & Q(reassign_to__isnull=False))
                | (~Q(action="reassign") & Q(reassign_to__isnull=True)),
                name="offboardingdevice_reassign_has_target",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="offboardingdevice_org_status")]

    def __str__(self):
        return f"{self.device}: {self.get_action_display()}"

    @property
    def readable_note(self) -> str:
        """The note in the reader's language when a service wrote it as a phrase, else as kept."""
        return stored_reading(self.note, self.note_phrase)
