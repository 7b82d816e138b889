"""The CSV import as a job (``core.jobs``, kind ``assignment.csv_import``), registered from ``assignment.wiring``.

Thin: the rules live in ``assignment.services.csv_imports``. The job analyses the stored rows a chunk at a time
(progress after each), then, unless it is a dry run, concludes the import as the synchronous API does, in one
transaction that also records the job's outcome; an analysis that starts from the first row runs in that same
transaction, and is then the commit's check (the rows are not classified twice). Its result is the body
the synchronous call would have answered: the preview, the committed import, or the 400 error body listing the rows
in error. Safe to re-run: an analysis is stored whole or not at all, and a commit is all or nothing.
"""

import time

from django.db import transaction
from django.utils.translation import gettext

from assignment import services
from assignment.csv_import import gc_paused
from assignment.models import CsvImport
from assignment.selectors import csv_import_answer, csv_import_rejection
from core.api.errors import validation_error_body
from core.jobs import JobFailed, JobRun


def csv_import_job(run: JobRun) -> dict:
    # A large import's rows are 100,000 dicts alive for the whole job: the cyclic collector waits until it ends
    # rather than walking them on each collection (decoding them, copying them: seconds of CPU).
    with gc_paused():
        return _csv_import_job(run)


def _csv_import_job(run: JobRun) -> dict:
    params = run.params
    record = CsvImport.objects.for_org(run.organization).filter(pk=params.get("csv_import")).first()
    if record is None:
        raise JobFailed(gettext("The import no longer exists."))
    if params.get("dry_run"):
        record, _ = _analysed(run, record)
        return csv_import_answer(record)
    failure = None
    with transaction.atomic():
        record, analysed_here = _analysed(run, record)
        try:
            with transaction.atomic():  # a savepoint: a commit that fails keeps the analysis, as a preview
                run.check()
                outcome = services.csv_import_conclude(csv_import=record, actor=run.actor, skip_errors=params.get(
                    "skip_errors", False), wipe=params.get("wipe", False), progress=run.progress,
                    analysed_in_this_transaction=analysed_here)
                if not outcome.rejected:
                    answer = csv_import_answer(outcome.record, result=outcome.result)
                    run.succeed(answer)  # in the commit's transaction: the job and the import commit together
        except Exception as exc:  # raised again below, once the analysis is stored
            failure = exc
    if failure is not None:
        raise failure
    if outcome.rejected:  # the import was discarded, as the synchronous call discards it
        body = validation_error_body(csv_import_rejection(outcome.rejected))
        raise JobFailed(body["fields"]["file"][0], result=body)
    return answer


def _analysed(run: JobRun, record: CsvImport) -> tuple[CsvImport, bool]:
    """The import once every row is analysed, and whether this call analysed them all (from the first row, no page
    analysing a chunk meanwhile)."""
    phase = gettext("Analysing the rows")

    def analysed(done: int, total: int) -> None:  # before each chunk
        run.progress(done, total, phase)
        run.check()

    record.refresh_from_db()
    all_here = record.status == CsvImport.Status.ANALYSING and record.processed_rows == 0
    while record.status == CsvImport.Status.ANALYSING:
        analysed(record.processed_rows, record.row_count)
        done = record.processed_rows
        record = services.csv_import_analyse(csv_import=record, progress=analysed)
        if record.status == CsvImport.Status.ANALYSING and record.processed_rows == done:
            all_here = False  # a page is analysing this chunk right now, in its transaction: read where it got to
            time.sleep(0.5)
            record.refresh_from_db()
    if record.status != CsvImport.Status.PREVIEWED:  # discarded meanwhile
        raise JobFailed(gettext("This import is %(status)s: there is nothing to do.")
                        % {"status": record.get_status_display().lower()})
    run.progress(record.row_count, record.row_count, gettext("Preview ready"))
    return record, all_here
