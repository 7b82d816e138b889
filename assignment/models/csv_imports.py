"""A bulk CSV import between its preview and its commit (DESIGN §6)."""

import msgspec
from django.conf import settings
from django.db import models
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from core.tenancy import TenantModel

_DATA_TEXT = Cast("data", models.TextField())  # PostgreSQL: jsonb as text; SQLite: the stored text
_decode_json = msgspec.json.Decoder().decode


class CsvImport(TenantModel):
    """One uploaded CSV between its preview and its commit: the parsed rows, each with its action or errors.

    The file itself is not kept: its rows are, one :class:`CsvImportRow` each, so the commit applies exactly what
    was previewed. :attr:`rows` reads them all (a preview, a small file); work that grows with the file reads them a
    chunk at a time (:meth:`rows_after`).
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

    def __init__(self, *args, rows: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._rows = rows  # held by the instance until saved as CsvImportRow rows (the services write them)

    def __str__(self):
        return f"CSV import #{self.pk} ({self.filename or 'file'})"

    @property
    def rows(self) -> list[dict]:
        """Every row (``{"line", "cells", "action", "errors", "notes", …}``) in file order, read once per instance."""
        if self._rows is None:
            self._rows = [] if self.pk is None else self.rows_after(0)
        return self._rows

    @rows.setter
    def rows(self, rows: list[dict] | None) -> None:
        self._rows = rows

    def rows_after(self, line: int, limit: int | None = None, **filters) -> list[dict]:
        """The stored rows after the file's ``line``, in file order, at most ``limit`` of them."""
        return self.stored_rows(line, 0, limit, **filters)[1]

    def stored_rows(self, line: int, offset: int = 0, limit: int | None = None,
                    **filters) -> tuple[list[int], list[dict]]:
        """The ids and the rows of :meth:`rows_after`, the first ``offset`` of them skipped. Each row's ``data`` is
        read as its JSON text and decoded by msgspec (about three times ``json.loads``, the field's own decoding:
        the rows of a large import are read twice, by its analysis and by its commit)."""
        stored = self.row_set.filter(line__gt=line, **filters).order_by("line").values_list("pk", "line", _DATA_TEXT)
        ids, rows = [], []
        for pk, number, text in stored[offset:None if limit is None else offset + limit]:
            ids.append(pk)
            rows.append({"line": number, **_decode_json(text)})
        return ids, rows

    def row_chunks(self, size: int, **filters):
        """The stored rows in file order, ``size`` at a time (a list each), read chunk by chunk: memory does not grow
        with the file."""
        after = 0
        while rows := self.rows_after(after, size, **filters):
            yield rows
            after = rows[-1]["line"]

    @property
    def rows_held(self) -> bool:
        """Whether this instance holds its rows in memory (a preview just made, or :attr:`rows` read)."""
        return self._rows is not None

    def first_rows(self, limit: int | None = None, *, action: str | None = None, warned: bool = False) -> list[dict]:
        """The first ``limit`` rows in file order (of one ``action``; with warnings only), from memory when the
        instance holds them, else read from the table: not the whole file."""
        filters = ({} if action is None else {"action": action}) | ({"warned": True} if warned else {})
        if self._rows is None:
            return self.rows_after(0, limit, **filters)
        rows = [row for row in self._rows
                if (action is None or row.get("action") == action) and (not warned or row.get("warnings"))]
        return rows if limit is None else rows[:limit]

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None:
            self._rows = None

    @property
    def error_rows(self) -> int:
        return self.counts.get("error", 0)


class CsvImportRow(models.Model):
    """One row of a :class:`CsvImport`: the file's line, and in ``data`` what was parsed from it (``cells``,
    ``serial``, ``email``…) and, once analysed, its classification (``action``, ``errors``, ``notes``, ids).

    Reached only through its import (no organization of its own): ``CsvImport.objects.for_org(…)`` first."""

    csv_import = models.ForeignKey(CsvImport, on_delete=models.CASCADE, related_name="row_set", db_index=False)
    line = models.PositiveIntegerField()
    action = models.CharField(max_length=20, blank=True)  # empty until the row is analysed
    warned = models.BooleanField(default=False)  # the analysis gave it warnings
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["csv_import", "line"], name="csvimportrow_import_line")]

    def __str__(self):
        return f"line {self.line} of CSV import #{self.csv_import_id}"
