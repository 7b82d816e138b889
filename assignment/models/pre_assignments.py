"""Pre-assignments by serial number (DESIGN §6)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.events import stored_reading
from core.models import Employee, Group
from core.tenancy import TenantModel
from devices.models import Device, Ownership

DEFAULT_DOMAIN_NAME = "MDM"


class PreAssignment(TenantModel):
    """A serial number bound to an employee before the device is seen (DESIGN §6, Apple Business Manager style).

    ``waiting`` until a device with that serial exists and is unassigned, then ``applied``; a device
    assigned to someone else makes it a ``conflict`` an admin settles; ``cancelled`` ends it. At most
    one active (waiting or conflict) pre-assignment per serial and organization.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        APPLIED = "applied", _("Applied")
        CONFLICT = "conflict", _("Conflict")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE = (Status.WAITING, Status.CONFLICT)

    # No single-column index: the table's (organization, …) indexes below serve a look-up by organization.
    organization = models.ForeignKey("cockpit.Organization", on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    serial_number = models.CharField(max_length=100)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="pre_assignments")
    groups = models.ManyToManyField(Group, blank=True, related_name="pre_assignments", through="PreAssignmentGroup")
    domain_name = models.CharField(max_length=150, default=DEFAULT_DOMAIN_NAME)
    ownership = models.CharField(max_length=10, choices=Ownership.choices, default=Ownership.CORPORATE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    source = models.CharField(max_length=20, help_text=_("manual, csv_import or api"))
    device = models.ForeignKey(  # indexed only where set (``preassignment_device``): most are still waiting
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="pre_assignments", db_index=False,
        help_text=_("The device it was applied to or conflicts with"),
    )
    note = models.CharField(max_length=255, blank=True, help_text=_("Why it is a conflict, or how it was settled"))
    note_phrase = models.JSONField(default=dict, blank=True)  # the note as its code (core.events.Phrase)
    created_by = models.CharField(max_length=200, help_text=_("Who, as shown at the time"))
    applied_at = models.DateTimeField(null=True, blank=True)
    conflict_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "serial_number"], condition=Q(status__in=["waiting", "conflict"]),
                name="preassignment_one_active_per_serial",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "id"], name="preassignment_org_status"),
            models.Index(fields=["organization", "serial_number"], name="preassignment_org_serial"),
            models.Index(fields=["device"], condition=Q(device__isnull=False), name="preassignment_device"),
        ]

    def __str__(self):
        return self.serial_number

    @property
    def readable_note(self) -> str:
        """The note in the reader's language when a service wrote it as a phrase, else as kept."""
        return stored_reading(self.note, self.note_phrase)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class PreAssignmentGroup(models.Model):
    """A group a pre-assignment gives its device: the table of :attr:`PreAssignment.groups`, the one Django made for
    it, named so that its pre-assignment column has no index of its own (the unique pair's index leads with it)."""

    preassignment = models.ForeignKey(PreAssignment, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "assignment_preassignment_groups"
        unique_together = [("preassignment", "group")]

    def __str__(self):
        return f"{self.preassignment_id} in group {self.group_id}"
