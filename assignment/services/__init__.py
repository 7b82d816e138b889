"""State changes of pre-assignment and CSV import, one module per subdomain, re-exported here.

Callers import ``assignment.services`` (``services.pre_assignment_create``, ``services.csv_import_commit``);
the code lives in ``pre_assignments.py`` and ``csv_imports.py`` (its tunables, such as
``csv_imports.ANALYSE_CHUNK``, are read and patched there). Suggestion has its own
``assignment.suggestion.services``.
"""

from assignment.services.csv_imports import (
    CSV_IMPORT_JOB,
    CsvSubmission,
    csv_import_analyse,
    csv_import_commit,
    csv_import_commit_queue,
    csv_import_conclude,
    csv_import_discard,
    csv_import_runs_as_job,
    csv_import_start,
    csv_import_submit,
    csv_max_bytes,
    csv_max_rows,
    csv_sync_max_rows,
    import_summary,
    size_message,
)
from assignment.services.pre_assignments import (
    SettleDecision,
    pre_assignment_apply,
    pre_assignment_apply_for_device,
    pre_assignment_cancel,
    pre_assignment_create,
    pre_assignment_settle,
    pre_assignment_update,
    pre_assignments_apply,
    pre_assignments_cancel_for_employee,
)

__all__ = [
    "CSV_IMPORT_JOB",
    "CsvSubmission",
    "SettleDecision",
    "csv_import_analyse",
    "csv_import_commit",
    "csv_import_commit_queue",
    "csv_import_conclude",
    "csv_import_discard",
    "csv_import_runs_as_job",
    "csv_import_start",
    "csv_import_submit",
    "csv_max_bytes",
    "csv_max_rows",
    "csv_sync_max_rows",
    "import_summary",
    "pre_assignment_apply",
    "pre_assignment_apply_for_device",
    "pre_assignment_cancel",
    "pre_assignment_create",
    "pre_assignment_settle",
    "pre_assignment_update",
    "pre_assignments_apply",
    "pre_assignments_cancel_for_employee",
    "size_message",
]
