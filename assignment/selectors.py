"""Reads of pre-assignments and CSV imports, always scoped to one organization."""

from assignment.csv_import import row_message, row_warnings
from assignment.models import CsvImport, PreAssignment


def pre_assignment_list(*, organization):
    return (
        PreAssignment.objects.for_org(organization)
        .select_related("employee", "device")
        .prefetch_related("groups")
        .order_by("-id")
    )


def pending_pre_assignment_for(device) -> PreAssignment | None:
    """The active (waiting or conflicting) pre-assignment naming this device's serial, for the device page."""
    if not device.serial_number:
        return None
    return (
        PreAssignment.objects.for_org(device.organization)
        .filter(serial_number=device.serial_number, status__in=PreAssignment.ACTIVE)
        .select_related("employee").first()
    )


def pre_assignments_of(employee):
    return (
        PreAssignment.objects.for_org(employee.organization)
        .filter(employee=employee, status__in=PreAssignment.ACTIVE).order_by("serial_number")
    )


def csv_import_list(*, organization):
    return CsvImport.objects.for_org(organization).order_by("-id")


MAX_ROWS_IN_ANSWER = 1000


class StoredRows:
    """An import's stored rows (of one ``action``, when given) as a sequence a paginator slices: each page is one
    query for its rows only, never the whole file."""

    def __init__(self, record: CsvImport, action: str = ""):
        queryset = record.row_set.order_by("line")
        self.queryset = (queryset.filter(action=action) if action else queryset).values_list("line", "data")

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        return [{"line": line, **data} for line, data in self.queryset[index]]


def csv_import_warned_rows(record: CsvImport) -> int:
    """How many of the import's rows have warnings."""
    return record.row_set.filter(warned=True).count()


def csv_import_rows_in_error(record: CsvImport):
    """The import's rows in error, in file order, read a chunk at a time."""
    for rows in record.row_chunks(2000, action="error"):
        yield from rows


def csv_import_answer(record: CsvImport, *, result: dict | None = None) -> dict:
    """An import as the API answers it (the preview, or the committed import with ``result``): each row's action,
    errors, notes and warnings, the first :data:`MAX_ROWS_IN_ANSWER` rows. Also the result of its job."""
    rows = [
        {"line": row["line"], "serial_number": row["serial"], "action": row.get("action"), "errors": row["errors"],
         "notes": row["notes"], "warnings": [w["detail"] for w in row.get("warnings") or ()],
         "new_employee": bool(row.get("new_employee"))}
        for row in record.first_rows(MAX_ROWS_IN_ANSWER)
    ]
    return {
        "id": record.pk, "kind": record.kind, "status": record.status, "row_count": record.row_count,
        "counts": record.counts, "ignored_columns": record.ignored_columns, "encoding": record.encoding,
        "rows": rows, "rows_truncated": record.row_count > MAX_ROWS_IN_ANSWER,
        "warnings": row_warnings(record.first_rows(MAX_ROWS_IN_ANSWER, warned=True), limit=MAX_ROWS_IN_ANSWER),
        "result": result,
    }


def csv_import_rejection(rows: list[dict]) -> dict:
    """The rows in error that stopped a commit, as the API's 400 names them: ``{"file": [sentence, "line 3: …"]}``."""
    detail = f"{len(rows)} row(s) are in error; nothing was imported (send skip_errors to import the rest)."
    return {"file": [detail, *(row_message(row) for row in rows[:MAX_ROWS_IN_ANSWER])]}
