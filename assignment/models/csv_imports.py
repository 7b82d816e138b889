"""A bulk CSV import between its preview and its commit (DESIGN §6)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.tenancy import TenantModel


class CsvImport(TenantModel):
    """One uploaded CSV between its preview and its commit: the parsed rows, each with its action or errors.

    The file itself is not kept: its rows are (``rows``), so the commit applies exactly what was previewed.
    """

    class Kind(models.TextChoices):
        ASSIGN = "assign", _("Pre-assign / assign")
        UNASSIGN = "unassign", _("Unassign")
        RETURN_TO_STOCK = "return_to_stock", _("Return to stock")

    class Status(models.TextChoices):
        ANALYSING = "analysing", _("Analysing")
        PREVIEWED = "previewed", _("Ready to commit")
        COMMITTED = "committed", _("Committed")
        FAILED = "failed", _("Refused")
        DISCARDED = "discarded", _("Discarded")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ASSIGN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ANALYSING)
    source = models.CharField(max_length=20, help_text=_("Where it was uploaded: csv_import (cockpit), api, command"))
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    header = models.JSONField(default=list, blank=True, help_text=_("The file's column titles, as written"))
    ignored_columns = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True, help_text=_("[{line, values, action, errors, notes, …}]"))
    row_count = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text=_("Why the whole file was refused"))
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
