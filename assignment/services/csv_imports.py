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
from assignment.models import CsvImport, CsvImportRow, PreAssignment
from core import bulk
from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput, ServiceUnavailable
from core.hooks import employee_created
from core.jobs import Job, job_for_target, job_start
from core.middleware import current_request_id
from core.models import AuditEvent, Employee, Organization
from core.paging import org_data_changed
from devices import services as device_services
from devices.models import Device

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
    return row["line"], row.get("action") or "", bool(row.get("warnings")), {
        key: value for key, value in row.items() if key != "line"}


def _store_rows(record: CsvImport, rows: list[dict]) -> None:
    """Insert the import's rows, one ``CsvImportRow`` each, in one ``COPY`` (``core.bulk``)."""
    bulk.insert_rows(CsvImportRow, ROW_FIELDS, ((record.pk, *_row_values(row)) for row in rows))


def _stored_chunk(record: CsvImport, offset: int, limit: int) -> tuple[list[int], list[dict]]:
    """``limit`` stored rows from the ``offset``-th in file order: their ids, and the rows."""
    ids, rows = [], []
    for pk, line, data in record.row_set.order_by("line").values_list("pk", "line", "data")[offset:offset + limit]:
        ids.append(pk)
        rows.append({"line": line, **data})
    return ids, rows


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
        with csv_rules.gc_paused():
            for at in range(start, end, ANALYSE_CHUNK):
                if progress is not None and at > start:
                    progress(at, record.row_count)
                ids, rows = _stored_chunk(record, at, min(end, at + ANALYSE_CHUNK) - at)
                csv_rules.classify(record.organization, rows, record.kind)
                bulk.update_rows(CsvImportRow, ["action", "warned", "data"], (
                    (pk, *_row_values(row)[1:]) for pk, row in zip(ids, rows, strict=True)))
                del ids, rows
        record.processed_rows = end
        if end >= record.row_count:
            record.status = CsvImport.Status.PREVIEWED
            record.counts = _stored_counts(record)
        record.save(update_fields=["processed_rows", "status", "counts", "updated_at"])
    return record


def _locked(queryset, csv_import: CsvImport) -> CsvImport:
    """The import, locked by ``queryset``. The rows ``csv_import`` holds in memory (a preview just made) are kept
    if the import did not change since (``updated_at``); otherwise they are read from the table when needed."""
    record = queryset.get(pk=csv_import.pk, organization_id=csv_import.organization_id)
    if record.updated_at == csv_import.updated_at and csv_import.rows_held:
        record.rows = csv_import.rows
    return record


def _error_rows(record: CsvImport, limit: int | None = None) -> list[dict]:
    return record.first_rows(limit, action=Action.ERROR)


def _error_count(record: CsvImport) -> int:
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
    after = 0
    while rows := record.rows_after(after, size):
        yield rows
        after = rows[-1]["line"]


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
                        progress=None) -> CsvSubmission:
    """After the preview, for a caller that asked for the commit with the upload (the API, its job): rows in error,
    unless skipped, discard the import (nothing is imported; ``rejected`` lists them); otherwise it is committed."""
    if not skip_errors and (errors := _error_rows(csv_import)):
        return CsvSubmission(csv_import_discard(csv_import=csv_import, actor=actor), rejected=errors)
    result = csv_import_commit(csv_import=csv_import, actor=actor, skip_errors=skip_errors, wipe=wipe,
                               progress=progress)
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
                      progress=None) -> dict:
    """Apply every previewed row in one transaction, or nothing. Rows in error block it unless skipped.

    The rows are classified again first; any row whose action changed since the preview stops the
    commit (ConcurrentChange): the admin previews again and sees what will really happen. ``progress(done, total,
    phase)`` hears of each step (a job shows it while this transaction is open).
    """
    # The cyclic collector waits for the whole commit: it allocates a few objects per row (copies, tuples for the
    # COPYs) while the import's rows are alive, and each collection would walk every one of them (1.5 s of 100k).
    with csv_rules.gc_paused():
        return _commit(csv_import, actor, skip_errors=skip_errors, wipe=wipe, progress=progress)


def _commit(csv_import: CsvImport, actor: Actor, *, skip_errors: bool, wipe: bool, progress) -> dict:
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
        # A chunk at a time: its rows are classified again against the stored analysis, then applied, in this one
        # transaction (a later chunk's lookups see what the earlier ones wrote: an employee created by one is found).
        for at, rows in enumerate(_row_chunks(record, COMMIT_CHUNK)):
            previewed = [row["action"] for row in rows]
            found = csv_rules.classify(record.organization, rows, record.kind)
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
                    applied = _commit_assignments(record, rows, actor, found)
                else:
                    applied = _commit_moves(record, rows, actor, wipe=wipe)
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


def import_summary(result: dict) -> str:
    parts = [f"{value} {key.replace('_', ' ')}" for key, value in result.items() if value and key != "skipped"]
    if result.get("skipped"):
        parts.append(f"{result['skipped']} row(s) in error skipped")
    return ", ".join(parts) or "nothing to change"


# --- the commit's writes: a few set-based statements and COPYs (``core.bulk``), not one model instance per row --------

AUDIT_FIELDS = ["organization", "event", "source", "target_type", "target_id", "target_label", "after", "before",
                "request_id", "actor_type", "actor_user", "actor_token", "actor_label"]
PRE_ASSIGNMENT_FIELDS = ["organization", "serial_number", "employee", "domain_name", "ownership", "source",
                         "created_by", "status", "device", "note", "conflict_at", "applied_at", "settled_by"]
PRE_ASSIGNMENT_TARGET = PreAssignment._meta.label_lower
DEVICE_TARGET = Device._meta.label_lower


def _bulk_audit(organization, actor: Actor, event: str, target_type: str, entries, source=Source.CSV_IMPORT) -> None:
    """``audit_record`` for many targets in one ``COPY``; ``entries`` are (target id, target label, after[, before]),
    the label as ``str(target)`` gives it."""
    fields = actor.audit_fields
    actor_values = (fields["actor_type"], getattr(fields["actor_user"], "pk", None),
                    getattr(fields["actor_token"], "pk", None), fields["actor_label"])
    head = (organization.pk, event, source, target_type)
    request_id = current_request_id.get()
    bulk.insert_rows(AuditEvent, AUDIT_FIELDS, (
        (*head, str(pk), label[:255], after, before[0] if before else {}, request_id, *actor_values)
        for pk, label, after, *before in entries
    ))


def _new_employees(organization, rows: list[dict], actor: Actor) -> dict[str, int]:
    """Create, in bulk, the employees whose e-mail the organization does not know yet: their ids by e-mail.

    The ids come from the table's sequence in the same statement as the insert (``core.bulk``), so the rows that
    name a new employee reference it without reading anything back."""
    wanted: dict[str, dict] = {}
    for row in rows:
        if row.get("new_employee"):
            wanted.setdefault(row["email"], row)
    if not wanted:
        return {}
    ids = bulk.insert_rows(Employee, ["organization", "email", "username", "domain_name"], [
        (organization.pk, email, row["username"], row["domain"]) for email, row in wanted.items()
    ], returning_ids=True)
    created = dict(zip(wanted, ids, strict=True))
    _bulk_audit(organization, actor, "employee.created", Employee._meta.label_lower, [
        (pk, email, {"email": email, "username": wanted[email]["username"], "domain_name": wanted[email]["domain"]})
        for email, pk in created.items()
    ])

    def announce():  # after commit, as employee_create does: e.g. enrollment invites the new employees
        for employee in Employee.objects.for_org(organization).filter(pk__in=ids).order_by("pk"):
            employee.organization = organization  # read once for all of them
            employee_created.run(employee=employee, actor=actor)

    transaction.on_commit(announce)
    return created


def _commit_assignments(record: CsvImport, rows: list[dict], actor: Actor, found: dict) -> dict:
    """Write the classified rows; ``found`` is what the classification looked up (employees, groups)."""
    organization = record.organization
    rows = [row for row in rows if row["action"] not in (Action.ERROR, Action.UNCHANGED)]
    new = _new_employees(organization, rows, actor)
    emails = {employee["pk"]: employee["email"] for employee in found["employees"].values()}
    group_ids = {group.name: group.pk for group in found["groups"].values()}
    for row in rows:
        row["employee_id"] = row.get("employee_id") or new[row["email"]]
    now, label = timezone.now(), actor.label[:200]
    fresh = [row for row in rows if not row.get("pre_assignment_id")]
    existing = [row for row in rows if row.get("pre_assignment_id")]

    def state(row) -> tuple:  # status, device, note, conflict_at, applied_at, settled_by
        if row["action"] == Action.CONFLICT:  # named now, from the classification just made in this transaction
            return PreAssignment.Status.CONFLICT, row["device_id"], row["conflict_note"][:255], now, None, ""
        if row["action"] == Action.ASSIGN_NOW:  # applied below, in this transaction, by the device's assignment
            return PreAssignment.Status.APPLIED, row["device_id"], "", None, now, label
        return PreAssignment.Status.WAITING, None, "", None, None, ""

    ids = bulk.insert_rows(PreAssignment, PRE_ASSIGNMENT_FIELDS, [
        (organization.pk, row["serial"], row["employee_id"], row["domain"], row["ownership"], Source.CSV_IMPORT,
         label, *state(row)) for row in fresh
    ], returning_ids=True)
    for row, pk in zip(fresh, ids, strict=True):
        row["pre_assignment_id"] = pk
    _update_pre_assignments(existing, now, label)
    through = PreAssignment.groups.through
    through.objects.filter(preassignment_id__in=[row["pre_assignment_id"] for row in existing]).delete()
    bulk.insert_rows(through, ["preassignment", "group"], (
        (row["pre_assignment_id"], group_ids[name]) for row in fresh + existing for name in row["groups"]))
    _bulk_audit(organization, actor, "pre_assignment.created", PRE_ASSIGNMENT_TARGET, (
        (row["pre_assignment_id"], row["serial"], {
            "serial_number": row["serial"], "employee": emails.get(row["employee_id"], row["email"]),
            "groups": row["groups"]})
        for row in fresh))
    _bulk_audit(organization, actor, "pre_assignment.updated", PRE_ASSIGNMENT_TARGET, (
        (row["pre_assignment_id"], row["serial"], {
            "groups": row["groups"], "domain_name": row["domain"], "ownership": row["ownership"]})
        for row in existing))
    conflicts = [row for row in fresh if row["action"] == Action.CONFLICT]
    _bulk_audit(organization, actor, "pre_assignment.conflict", PRE_ASSIGNMENT_TARGET, (
        (row["pre_assignment_id"], row["serial"], {"note": row["conflict_note"][:255]}) for row in conflicts))
    result = {
        "created": sum(1 for row in fresh if row["action"] == Action.CREATE),
        "updated": sum(1 for row in existing if row["action"] == Action.UPDATE),
        "assigned": _assign_now(record, [row for row in fresh + existing if row["action"] == Action.ASSIGN_NOW],
                                actor, group_ids, now),
        "conflicts": len(conflicts), "new_employees": len(new),
    }
    org_data_changed(organization.pk)  # bulk writes bypass the signals that refresh the cached list counts
    return {key: result[key] for key in ("created", "updated", "assigned", "conflicts", "new_employees")}


def _update_pre_assignments(existing: list[dict], now, label: str) -> None:
    """The file's domain and ownership on the active pre-assignments it names; those whose device is here are
    applied (by the device's assignment, in this transaction). A row gone meanwhile stops the commit."""
    waiting = [(row["pre_assignment_id"], row["domain"], row["ownership"], now)
               for row in existing if row["action"] != Action.ASSIGN_NOW]
    applied = [(row["pre_assignment_id"], row["domain"], row["ownership"], now, PreAssignment.Status.APPLIED,
                row["device_id"], now, label) for row in existing if row["action"] == Action.ASSIGN_NOW]
    written = bulk.update_rows(PreAssignment, ["domain_name", "ownership", "updated_at"], waiting) + bulk.update_rows(
        PreAssignment, ["domain_name", "ownership", "updated_at", "status", "device", "applied_at", "settled_by"],
        applied)
    if written != len(existing):  # answered as a concurrent change, like a broken constraint
        raise IntegrityError("A pre-assignment the file names changed since it was classified.")


def _assign_now(record: CsvImport, rows: list[dict], actor: Actor, group_ids: dict, now) -> int:
    """Rows whose device is here and unassigned: the devices are assigned in bulk (``device_assign_many``: row
    locks, history, audit); their groups and ownership are set as ``device_update`` sets them. The pre-assignments
    were written applied already; their ``pre_assignment.applied`` entries follow."""
    if not rows:
        return 0
    organization = record.organization
    employees = Employee.objects.for_org(organization).in_bulk({row["employee_id"] for row in rows})
    try:
        assigned = device_services.device_assign_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                                                      assignments=[
            device_services.Assignment(row["device_id"], employees[row["employee_id"]],
                                       Phrase("csv_import.line", {"id": record.pk, "line": row["line"]}))
            for row in rows
        ])
    except DomainError as exc:  # the preview said otherwise: something changed since
        raise ConcurrentChange(gettext("%(message)s Nothing was imported; upload the file again.") % {
            "message": exc.message}) from exc
    devices = {device.pk: device for device in assigned}
    _bulk_device_fields(organization, actor, devices,
                        {row["device_id"]: (row["groups"], row["ownership"]) for row in rows}, group_ids, now)
    _bulk_audit(organization, actor, "pre_assignment.applied", PRE_ASSIGNMENT_TARGET, (
        (row["pre_assignment_id"], row["serial"], {
            "device": str(devices[row["device_id"]]), "employee": employees[row["employee_id"]].email})
        for row in rows))
    return len(rows)


def _bulk_device_fields(organization, actor: Actor, devices: dict, wanted: dict, group_ids: dict, now) -> None:
    """Set the groups and ownership of many devices as ``device_update`` does one (version bumped, one
    ``device.updated`` audit entry per device that changed), in a few statements. ``devices`` are locked."""
    device_groups = Device.groups.through
    before_groups: dict[int, list[str]] = {pk: [] for pk in wanted}
    for device_id, name in device_groups.objects.filter(device_id__in=list(wanted)).values_list(
        "device_id", "group__name"
    ):
        before_groups[device_id].append(name)
    changes = {}
    for pk, (groups, ownership) in wanted.items():
        before = {"groups": sorted(before_groups[pk]), "ownership": devices[pk].ownership}
        after = {"groups": sorted(groups) if groups else before["groups"], "ownership": ownership}
        changed = [key for key in after if after[key] != before[key]]
        if changed:
            changes[pk] = ({k: before[k] for k in changed}, {k: after[k] for k in changed})
    regroup = [pk for pk, (_, after) in changes.items() if "groups" in after]
    device_groups.objects.filter(device_id__in=regroup).delete()
    bulk.insert_rows(device_groups, ["device", "group"], (
        (pk, group_ids[name]) for pk in regroup for name in changes[pk][1]["groups"]))
    bulk.update_rows(Device, ["ownership", "version", "updated_at"], (
        (pk, after.get("ownership", devices[pk].ownership), devices[pk].version + 1, now)
        for pk, (_, after) in changes.items()))
    _bulk_audit(organization, actor, "device.updated", DEVICE_TARGET, (
        (pk, str(devices[pk]), after, before) for pk, (before, after) in changes.items()))


def _commit_moves(record: CsvImport, rows: list[dict], actor: Actor, *, wipe: bool) -> dict:
    move = (device_services.device_unassign if record.kind == CsvImport.Kind.UNASSIGN
            else device_services.device_return_to_stock)
    to_move = [row for row in rows if row["action"] in (Action.UNASSIGN, Action.RETURN_TO_STOCK)]
    devices = Device.objects.for_org(record.organization).in_bulk([row["device_id"] for row in to_move])
    for row in to_move:
        move(device=devices[row["device_id"]], actor=actor, source=Source.CSV_IMPORT, wipe=wipe,
             reason=Phrase("csv_import.line", {"id": record.pk, "line": row["line"]}))
    return {"unassigned" if record.kind == CsvImport.Kind.UNASSIGN else "returned_to_stock": len(to_move)}
