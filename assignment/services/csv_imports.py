"""CSV import state changes (DESIGN §6): start (parse and preview), analyse, commit, discard.

A CSV import is parsed and classified once (the preview, stored as a :class:`CsvImport`), then
committed in one transaction after the rows are classified again: if anything changed since the
preview, nothing is applied and the admin previews again. Parsing and row rules live in
``assignment.csv_import``.

Work that grows with the file leaves the request (issue #12 §2): a file of more than
``ASSIGNMENT_CSV_SYNC_MAX_ROWS`` rows is only parsed and stored by the request, and a job (``core.jobs``, kind
:data:`CSV_IMPORT_JOB`, handler ``assignment.jobs``) analyses it in chunks and, unless it is a dry run, commits it
in the same one transaction (:func:`csv_import_submit`, :func:`csv_import_commit_queue`).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from assignment import csv_import as csv_rules
from assignment.csv_import import Action, FileTooLarge
from assignment.models import CsvImport, CsvImportRow
from assignment.services.csv_import_writes import commit_assignments, commit_moves
from core import bulk
from core.actors import Actor
from core.audit import Source, audit_record
from core.bulk import AnyOf
from core.errors import ConcurrentChange, IllegalTransition, InvalidInput, ServiceUnavailable
from core.jobs import Job, job_for_target, job_start
from core.models import Employee, Group, Organization

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
DEFAULT_SYNC_MAX_ROWS = 2_000
ANALYSE_CHUNK = 20_000
COMMIT_CHUNK = 20_000
ROW_FIELDS = ["csv_import", "line", "action", "warned", "data"]
CSV_IMPORT_JOB = "assignment.csv_import"
COMMIT_FIELDS = ["status", "committed_at", "committed_by", "skipped_errors", "result", "updated_at"]


def csv_max_bytes() -> int:
    return getattr(settings, "ASSIGNMENT_CSV_MAX_BYTES", DEFAULT_MAX_BYTES)


def csv_max_rows() -> int:
    return getattr(settings, "ASSIGNMENT_CSV_MAX_ROWS", DEFAULT_MAX_ROWS)


def csv_sync_max_rows() -> int:
    """Files with more rows than this are analysed and committed by a job, not in the request."""
    return getattr(settings, "ASSIGNMENT_CSV_SYNC_MAX_ROWS", DEFAULT_SYNC_MAX_ROWS)


def csv_import_runs_as_job(csv_import: CsvImport) -> bool:
    return csv_import.row_count > csv_sync_max_rows()


@dataclass
class CsvSubmission:
    """Where an upload stands after the request: the import, and either the job doing the rest (above the
    threshold), or what the commit did (``result``), or the rows in error that stopped it (``rejected``: nothing was
    imported and the import is discarded). A preview has neither."""

    record: CsvImport
    job: Job | None = None
    result: dict | None = None
    rejected: list[dict] = field(default_factory=list)


def csv_import_start(
    *, organization: Organization, actor: Actor, data: bytes, filename: str = "", kind: str = CsvImport.Kind.ASSIGN,
    source: str = Source.CSV_IMPORT, analyse_all: bool = True,
) -> CsvImport:
    """Parse an uploaded file and store its rows for the preview. A file it cannot read raises CsvFileError.

    ``analyse_all=False`` (the cockpit) classifies the first chunk only; :func:`csv_import_analyse` goes on.
    """
    record = _parsed(organization=organization, actor=actor, data=data, filename=filename, kind=kind, source=source)
    return _preview(record, analyse_all=analyse_all)


def _parsed(*, organization, actor: Actor, data: bytes, filename: str, kind: str, source: str) -> CsvImport:
    """The file read into an unsaved import (no database query): its rows, not yet classified."""
    if kind not in CsvImport.Kind.values:
        raise InvalidInput(gettext("Unknown import kind “%(kind)s”.") % {"kind": kind}, field="kind")
    if len(data) > csv_max_bytes():
        raise FileTooLarge(size_message(len(data)))
    parsed = csv_rules.parse(data, kind=kind, max_rows=csv_max_rows())
    return CsvImport(
        organization=organization, kind=kind, source=source, filename=(filename or "")[:255], size_bytes=len(data),
        encoding=parsed.encoding, delimiter=parsed.delimiter, header=parsed.header,
        ignored_columns=parsed.ignored_columns, rows=parsed.rows, row_count=len(parsed.rows),
        created_by=actor.label[:200], created_by_user=actor.user if actor.kind == "user" else None,
    )


def _preview(record: CsvImport, *, analyse_all: bool) -> CsvImport:
    organization, rows, kind = record.organization, record.rows, record.kind
    if analyse_all or len(rows) <= ANALYSE_CHUNK:  # all at once: one write of the rows instead of two
        with csv_rules.gc_paused():
            csv_rules.classify(organization, rows, kind)
        record.status, record.processed_rows, record.counts = (
            CsvImport.Status.PREVIEWED, len(rows), csv_rules.count_actions(rows))
        with transaction.atomic():
            record.save()
            _store_rows(record, rows)
        return record
    with transaction.atomic():
        record.save()
        _store_rows(record, rows)
    return csv_import_analyse(csv_import=record, chunk=ANALYSE_CHUNK)


def _row_values(row: dict) -> tuple:
    """A row as its ``CsvImportRow`` stores it: the line, the action, whether it has warnings, the rest as JSON."""
    data = dict(row)  # a copy in C, then one key out: cheaper than a comprehension over every key
    del data["line"]
    return row["line"], row.get("action") or "", bool(row.get("warnings")), data


def _store_rows(record: CsvImport, rows: list[dict]) -> None:
    """Insert the import's rows, one ``CsvImportRow`` each, in one ``COPY`` (``core.bulk``)."""
    bulk.insert_rows(CsvImportRow, ROW_FIELDS, ((record.pk, *_row_values(row)) for row in rows))


def _stored_counts(record: CsvImport) -> dict:
    """:func:`csv_rules.count_actions` over the stored rows, read a chunk at a time."""
    counts: dict[str, int] = {}
    new_employees = set()
    for action, new, email in record.row_set.order_by("line").values_list(
        "action", "data__new_employee", "data__email"
    ).iterator(chunk_size=5000):
        if action:
            counts[action] = counts.get(action, 0) + 1
        if new and action != Action.ERROR:
            new_employees.add(email)
    counts["new_employees"] = len(new_employees)
    return counts


def size_message(size: int | None = None) -> str:
    told = f" ({filesizeformat(size)})" if size else ""
    return (f"The file is too large{told}: the limit is {filesizeformat(csv_max_bytes())}. "
            "Split it into smaller files.")


def csv_import_analyse(*, csv_import: CsvImport, chunk: int | None = None, progress=None) -> CsvImport:
    """Classify the next ``chunk`` rows (all when None); the preview is ready when every row is done.

    All at once (a job) goes :data:`ANALYSE_CHUNK` rows at a time, each chunk's lookups on their own, telling
    ``progress(done, total)`` between two, and stores the rows once at the end: a large file's rows are tens of MB
    of JSON, written once rather than once per chunk."""
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the refused lock leaves the transaction usable
                record = CsvImport.objects.select_for_update(nowait=True).get(
                    pk=csv_import.pk, organization_id=csv_import.organization_id)
        except OperationalError:  # PostgreSQL: another request is analysing this import now; show its progress
            return csv_import
        if record.status != CsvImport.Status.ANALYSING:
            return record
        start = record.processed_rows
        end = record.row_count if chunk is None else min(record.row_count, start + chunk)
        # Duplicates and e-mails seen across chunks are settled by the parse; lookups are per chunk, and each
        # chunk is read, classified and written back on its own: memory does not grow with the file.
        counts, new_employees = {}, set()  # count_actions, chunk by chunk: used when this call analyses every row
        with csv_rules.gc_paused():
            after_line, skip = 0, start  # the first chunk from the start-th row, the next ones after its last line
            for at in range(start, end, ANALYSE_CHUNK):
                if progress is not None and at > start:
                    progress(at, record.row_count)
                ids, rows = record.stored_rows(after_line, skip, min(end, at + ANALYSE_CHUNK) - at)
                if not rows:
                    break
                after_line, skip = rows[-1]["line"], 0
                csv_rules.classify(record.organization, rows, record.kind)
                bulk.update_rows(CsvImportRow, ["action", "warned", "data"], (
                    (pk, *_row_values(row)[1:]) for pk, row in zip(ids, rows, strict=True)))
                for row in rows:
                    counts[row["action"]] = counts.get(row["action"], 0) + 1
                    if row.get("new_employee") and not row["errors"]:
                        new_employees.add(row["email"])
                del ids, rows
        record.processed_rows = end
        if end >= record.row_count:
            record.status = CsvImport.Status.PREVIEWED
            record.counts = (counts | {"new_employees": len(new_employees)}) if start == 0 else _stored_counts(record)
        record.save(update_fields=["processed_rows", "status", "counts", "updated_at"])
    return record


def _locked(queryset, csv_import: CsvImport) -> CsvImport:
    """The import, locked by ``queryset``. The rows ``csv_import`` holds in memory (a preview just made) are kept
    if the import did not change since (``updated_at``); otherwise they are read from the table when needed."""
    record = queryset.get(pk=csv_import.pk, organization_id=csv_import.organization_id)
    if record.updated_at == csv_import.updated_at and csv_import.rows_held:
        record.rows = csv_import.rows
    return record


def _none_in_error(record: CsvImport) -> bool:
    """Whether the finished analysis counted no row in error (its ``counts``, which always name ``new_employees``):
    then the rows need not be read to find some (a scan of every stored row of a large import, each time)."""
    return (record.status == CsvImport.Status.PREVIEWED and "new_employees" in record.counts
            and not record.counts.get(Action.ERROR))


def _error_rows(record: CsvImport, limit: int | None = None) -> list[dict]:
    if not record.rows_held and _none_in_error(record):
        return []
    return record.first_rows(limit, action=Action.ERROR)


def _error_count(record: CsvImport) -> int:
    if not record.rows_held and _none_in_error(record):
        return 0
    if record.rows_held:
        return sum(1 for row in record.rows if row["action"] == Action.ERROR)
    return record.row_set.filter(action=Action.ERROR).count()


def _row_chunks(record: CsvImport, size: int):
    """The rows in file order, ``size`` at a time, each a fresh dict the caller may change: from memory when the
    instance holds them, else read from the table chunk by chunk (memory does not grow with the file)."""
    if record.rows_held:
        for at in range(0, len(record.rows), size):
            yield [dict(row) for row in record.rows[at:at + size]]
        return
    yield from record.row_chunks(size)


@transaction.atomic
def csv_import_discard(*, csv_import: CsvImport, actor: Actor) -> CsvImport:
    record = CsvImport.objects.select_for_update().get(pk=csv_import.pk)
    if record.status == CsvImport.Status.COMMITTED:
        raise IllegalTransition(gettext("This import was committed; it cannot be discarded."))
    record.status, record.rows = CsvImport.Status.DISCARDED, []
    record.save(update_fields=["status", "updated_at"])
    record.row_set.all().delete()
    return record


def csv_import_submit(
    *, organization: Organization, actor: Actor, data: bytes, filename: str = "", kind: str = CsvImport.Kind.ASSIGN,
    source: str = Source.CSV_IMPORT, dry_run: bool = False, skip_errors: bool = False, wipe: bool = False,
    analyse_all: bool = True,
) -> CsvSubmission:
    """An upload, as the API and the cockpit take it: up to :func:`csv_sync_max_rows` rows it is previewed here
    and, unless ``dry_run``, concluded (:func:`csv_import_conclude`); above, the request only parses and stores
    the rows, and a job does the rest (``submission.job``). A file it cannot read raises CsvFileError; a broker that
    is down, ServiceUnavailable (the import is then refused, nothing queued)."""
    record = _parsed(organization=organization, actor=actor, data=data, filename=filename, kind=kind, source=source)
    if csv_import_runs_as_job(record):
        return CsvSubmission(record, job=_queue(record, actor, dry_run=dry_run, skip_errors=skip_errors, wipe=wipe))
    record = _preview(record, analyse_all=analyse_all)
    if dry_run or record.status != CsvImport.Status.PREVIEWED:
        return CsvSubmission(record)
    return csv_import_conclude(csv_import=record, actor=actor, skip_errors=skip_errors, wipe=wipe)


def _queue(record: CsvImport, actor: Actor, *, dry_run: bool, skip_errors: bool, wipe: bool) -> Job:
    """Store the parsed rows and start the job that analyses (and commits) them, in one transaction."""
    try:
        with transaction.atomic():
            record.save()
            _store_rows(record, record.rows)
            job = _start_job(record, actor, dry_run=dry_run, skip_errors=skip_errors, wipe=wipe)
    except ServiceUnavailable:  # the job failed at once: the import it would have analysed is refused with it
        CsvImport.objects.filter(pk=record.pk).update(
            status=CsvImport.Status.FAILED, updated_at=timezone.now(),
            error=gettext("The job queue was unavailable: the file was not analysed. Upload it again later."))
        CsvImportRow.objects.filter(csv_import_id=record.pk).delete()
        raise
    return job


def _start_job(record: CsvImport, actor: Actor, *, dry_run: bool, skip_errors: bool, wipe: bool) -> Job:
    return job_start(
        organization=record.organization, actor=actor, kind=CSV_IMPORT_JOB, target=record, total=record.row_count,
        phase=gettext("Waiting for a worker"),
        params={"csv_import": record.pk, "dry_run": dry_run, "skip_errors": skip_errors, "wipe": wipe},
    )


def csv_import_conclude(*, csv_import: CsvImport, actor: Actor, skip_errors: bool = False, wipe: bool = False,
                        progress=None, analysed_in_this_transaction: bool = False) -> CsvSubmission:
    """After the preview, for a caller that asked for the commit with the upload (the API, its job): rows in error,
    unless skipped, discard the import (nothing is imported; ``rejected`` lists them); otherwise it is committed
    (see :func:`csv_import_commit` for ``analysed_in_this_transaction``)."""
    if not skip_errors and (errors := _error_rows(csv_import)):
        return CsvSubmission(csv_import_discard(csv_import=csv_import, actor=actor), rejected=errors)
    result = csv_import_commit(csv_import=csv_import, actor=actor, skip_errors=skip_errors, wipe=wipe,
                               progress=progress, analysed_in_this_transaction=analysed_in_this_transaction)
    csv_import.refresh_from_db(fields=COMMIT_FIELDS)  # a commit leaves the rows as they were
    return CsvSubmission(csv_import, result=result)


def csv_import_commit_queue(*, csv_import: CsvImport, actor: Actor, skip_errors: bool = False,
                            wipe: bool = False) -> Job:
    """Commit a large import (:func:`csv_import_runs_as_job`) in the worker: it is checked here as the commit
    checks it (its state, the rows in error), then a job commits it in the one transaction."""
    with transaction.atomic():
        record = CsvImport.objects.select_for_update().get(pk=csv_import.pk, organization_id=csv_import.organization_id)
        _check_committable(record, skip_errors=skip_errors)
        if job_for_target(organization=record.organization, target=record, active=True) is not None:
            raise ConcurrentChange(gettext("This import is being analysed or committed right now."))
        return _start_job(record, actor, dry_run=False, skip_errors=skip_errors, wipe=wipe)


def _check_committable(record: CsvImport, *, skip_errors: bool) -> None:
    if record.status == CsvImport.Status.COMMITTED:
        raise IllegalTransition(gettext("This import was already committed."))
    if record.status != CsvImport.Status.PREVIEWED:
        raise IllegalTransition(gettext("This import is %(status)s: it cannot be committed.") % {
            "status": record.get_status_display().lower()})
    if skip_errors or not (first := _error_rows(record, 1)):
        return
    count = _error_count(record)
    raise InvalidInput(
        ngettext("%(count)d row(s) are in error (first: %(first)s). Nothing was imported: fix the file, or "
                 "choose to skip the rows in error.",
                 "%(count)d row(s) are in error (first: %(first)s). Nothing was imported: fix the file, or "
                 "choose to skip the rows in error.", count) % {
            "count": count, "first": csv_rules.row_message(first[0])}, field="file",
    )


def csv_import_commit(*, csv_import: CsvImport, actor: Actor, skip_errors: bool = False, wipe: bool = False,
                      progress=None, analysed_in_this_transaction: bool = False) -> dict:
    """Apply every previewed row in one transaction, or nothing. Rows in error block it unless skipped.

    The rows are classified again first, a chunk at a time; any row whose action changed since the preview stops
    the commit (ConcurrentChange): the admin previews again and sees what will really happen. A caller that analysed
    every row in the transaction the commit joins (a job that analyses and commits) says so with
    ``analysed_in_this_transaction``: that analysis is the check, the rows are not classified a second time.
    ``progress(done, total, phase)`` hears of each step (a job shows it while this transaction is open).
    """
    if analysed_in_this_transaction and not transaction.get_connection().in_atomic_block:
        raise ValueError("analysed_in_this_transaction: the analysis and the commit share a transaction.")
    # The cyclic collector waits for the whole commit: it allocates a few objects per row (copies, tuples for the
    # COPYs) while the import's rows are alive, and each collection would walk every one of them (1.5 s of 100k).
    with csv_rules.gc_paused():
        return _commit(csv_import, actor, skip_errors=skip_errors, wipe=wipe, progress=progress,
                       recheck=not analysed_in_this_transaction)


def _commit(csv_import: CsvImport, actor: Actor, *, skip_errors: bool, wipe: bool, progress, recheck: bool) -> dict:
    report = progress or (lambda done, total, phase: None)
    with transaction.atomic():
        try:
            record = _locked(CsvImport.objects.select_for_update(nowait=True).select_related("organization"),
                             csv_import)
        except OperationalError as exc:
            raise ConcurrentChange(gettext("This import is being committed by someone else right now.")) from exc
        _check_committable(record, skip_errors=skip_errors)
        errors = _error_count(record)
        report(0, 3, gettext("Checking the rows again"))
        result: dict[str, int] = {}
        created: dict[str, int] = {}  # new employees by e-mail, created by an earlier chunk
        # A chunk at a time: its rows are classified again against the stored analysis, then applied, in this one
        # transaction (a later chunk's lookups see what the earlier ones wrote: an employee created by one is found).
        for at, rows in enumerate(_row_chunks(record, COMMIT_CHUNK)):
            previewed = [row["action"] for row in rows]
            found = (csv_rules.classify(record.organization, rows, record.kind) if recheck
                     else _write_lookups(record, rows))
            for row, action in zip(rows, previewed, strict=True):
                if row["action"] != action:
                    raise ConcurrentChange(
                        gettext("The inventory changed since the preview (line %(line)s was “%(previewed)s”, now "
                                "“%(action)s”). Nothing was imported: upload the file again to see a fresh "
                                "preview.") % {"line": row["line"], "previewed": action, "action": row["action"]})
            if at == 0:
                report(1, 3, gettext("Applying the rows"))
            try:
                if record.kind == CsvImport.Kind.ASSIGN:
                    applied = commit_assignments(record, rows, actor, found, created)
                else:
                    applied = commit_moves(record, rows, actor, wipe=wipe)
            except IntegrityError as exc:
                raise ConcurrentChange(gettext("Someone changed the same serial numbers at the same time; nothing "
                                               "was imported. Upload the file again.")) from exc
            result = {key: result.get(key, 0) + value for key, value in applied.items()}
            del rows, found
        result["skipped"] = errors
        report(2, 3, gettext("Recording the import"))
        record.status, record.committed_at = CsvImport.Status.COMMITTED, timezone.now()
        record.committed_by, record.skipped_errors, record.result = actor.label[:200], bool(errors), result
        record.save(update_fields=COMMIT_FIELDS)
        audit_record(organization=record.organization, actor=actor, event="csv_import.committed", target=record,
                     source=Source.CSV_IMPORT, after=result | {"summary": import_summary(result)})
    return result


def _write_lookups(record: CsvImport, rows: list[dict]) -> dict:
    """What the writes take from the classification's lookups (the employees' e-mails, the groups), for rows
    classified earlier in the same transaction: two queries instead of classifying them again."""
    if record.kind != CsvImport.Kind.ASSIGN:
        return {}
    organization = record.organization
    ids = list({row["employee_id"] for row in rows if row.get("employee_id")})
    return {
        "employees": {employee["pk"]: employee for employee in Employee.objects.for_org(organization)
                      .filter(AnyOf("pk", ids)).values("pk", "email")},
        "groups": {group.name.lower(): group for group in Group.objects.for_org(organization)},
    }


def import_summary(result: dict) -> str:
    parts = [f"{value} {key.replace('_', ' ')}" for key, value in result.items() if value and key != "skipped"]
    if result.get("skipped"):
        parts.append(f"{result['skipped']} row(s) in error skipped")
    return ", ".join(parts) or "nothing to change"
