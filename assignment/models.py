"""Pre-assignments and CSV imports (below); suggestion models live in ``suggestion_models``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

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
        WAITING = "waiting", "Waiting"
        APPLIED = "applied", "Applied"
        CONFLICT = "conflict", "Conflict"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.WAITING, Status.CONFLICT)

    serial_number = models.CharField(max_length=100)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="pre_assignments")
    groups = models.ManyToManyField(Group, blank=True, related_name="pre_assignments")
    domain_name = models.CharField(max_length=150, default=DEFAULT_DOMAIN_NAME)
    ownership = models.CharField(max_length=10, choices=Ownership.choices, default=Ownership.CORPORATE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    source = models.CharField(max_length=20, help_text="manual, csv_import or api")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="pre_assignments",
        help_text="The device it was applied to or conflicts with",
    )
    note = models.CharField(max_length=255, blank=True, help_text="Why it is a conflict, or how it was settled")
    created_by = models.CharField(max_length=200, help_text="Who, as shown at the time")
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
        ]

    def __str__(self):
        return self.serial_number

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class CsvImport(TenantModel):
    """One uploaded CSV between its preview and its commit: the parsed rows, each with its action or errors.

    The file itself is not kept: its rows are (``rows``), so the commit applies exactly what was previewed.
    """

    class Kind(models.TextChoices):
        ASSIGN = "assign", "Pre-assign / assign"
        UNASSIGN = "unassign", "Unassign"
        RETURN_TO_STOCK = "return_to_stock", "Return to stock"

    class Status(models.TextChoices):
        ANALYSING = "analysing", "Analysing"
        PREVIEWED = "previewed", "Ready to commit"
        COMMITTED = "committed", "Committed"
        FAILED = "failed", "Refused"
        DISCARDED = "discarded", "Discarded"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ASSIGN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ANALYSING)
    source = models.CharField(max_length=20, help_text="Where it was uploaded: csv_import (cockpit), api, command")
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    header = models.JSONField(default=list, blank=True, help_text="The file's column titles, as written")
    ignored_columns = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True, help_text="[{line, values, action, errors, notes, …}]")
    row_count = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="Why the whole file was refused")
    created_by = models.CharField(max_length=200)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    committed_by = models.CharField(max_length=200, blank=True)
    skipped_errors = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="csvimport_org_created")]

    def __str__(self):
        return f"CSV import #{self.pk} ({self.filename or 'file'})"

    @property
    def error_rows(self) -> int:
        return self.counts.get("error", 0)


from assignment.suggestion_models import *  # noqa: E402,F401,F403  (Django finds models through this module)
