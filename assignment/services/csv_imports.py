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
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from assignment import csv_import as csv_rules
from assignment.csv_import import Action, FileTooLarge
from assignment.models import CsvImport, PreAssignment
from core.actors import Actor
from core.audit import Source, audit_record
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput, ServiceUnavailable
from core.hooks import employee_created
from core.jobs import Job, job_for_target, job_start
from core.middleware import current_request_id
from core.models import AuditEvent, Employee, Group, Organization
from core.paging import org_data_changed
from devices import services as device_services
from devices.models import Device, Ownership

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
DEFAULT_SYNC_MAX_ROWS = 2_000
ANALYSE_CHUNK = 20_000
CSV_IMPORT_JOB = "assignment.csv_import"


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
        record.save()
        return record
    record.save()
    return csv_import_analyse(csv_import=record, chunk=ANALYSE_CHUNK)


def size_message(size: int | None = None) -> str:
    told = f" ({filesizeformat(size)})" if size else ""
    return (f"The file is too large{told}: the limit is {filesizeformat(csv_max_bytes())}. "
            "Split it into smaller files.")


def csv_import_analyse(*, csv_import: CsvImport, chunk: int | None = None) -> CsvImport:
    """Classify the next ``chunk`` rows (all when None); the preview is ready when every row is done."""
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the refused lock leaves the transaction usable
                record = CsvImport.objects.select_for_update(nowait=True).get(pk=csv_import.pk)
        except OperationalError:  # PostgreSQL: another request is analysing this import now; show its progress
            return csv_import
        if record.status != CsvImport.Status.ANALYSING:
            return record
        start = record.processed_rows
        end = record.row_count if chunk is None else min(record.row_count, start + chunk)
        rows = record.rows
        # Duplicates and e-mails seen across chunks are settled by the parse; lookups are per chunk.
        with csv_rules.gc_paused():
            csv_rules.classify(record.organization, rows[start:end], record.kind)
        record.processed_rows = end
        if end >= record.row_count:
            record.status = CsvImport.Status.PREVIEWED
            record.counts = csv_rules.count_actions(rows)
        record.save(update_fields=["rows", "processed_rows", "status", "counts", "updated_at"])
    return record


@transaction.atomic
def csv_import_discard(*, csv_import: CsvImport, actor: Actor) -> CsvImport:
    record = CsvImport.objects.select_for_update().get(pk=csv_import.pk)
    if record.status == CsvImport.Status.COMMITTED:
        raise IllegalTransition(gettext("This import was committed; it cannot be discarded."))
    record.status, record.rows = CsvImport.Status.DISCARDED, []
    record.save(update_fields=["status", "rows", "updated_at"])
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
            job = _start_job(record, actor, dry_run=dry_run, skip_errors=skip_errors, wipe=wipe)
    except ServiceUnavailable:  # the job failed at once: the import it would have analysed is refused with it
        CsvImport.objects.filter(pk=record.pk).update(
            status=CsvImport.Status.FAILED, rows=[], updated_at=timezone.now(),
            error=gettext("The job queue was unavailable: the file was not analysed. Upload it again later."))
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
    errors = [row for row in csv_import.rows if row["action"] == Action.ERROR]
    if errors and not skip_errors:
        return CsvSubmission(csv_import_discard(csv_import=csv_import, actor=actor), rejected=errors)
    result = csv_import_commit(csv_import=csv_import, actor=actor, skip_errors=skip_errors, wipe=wipe,
                               progress=progress)
    csv_import.refresh_from_db()
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
    errors = [row for row in record.rows if row["action"] == Action.ERROR]
    if errors and not skip_errors:
        raise InvalidInput(
            ngettext("%(count)d row(s) are in error (first: %(first)s). Nothing was imported: fix the file, or "
                     "choose to skip the rows in error.",
                     "%(count)d row(s) are in error (first: %(first)s). Nothing was imported: fix the file, or "
                     "choose to skip the rows in error.", len(errors)) % {
                "count": len(errors), "first": csv_rules.row_message(errors[0])}, field="file",
        )


def csv_import_commit(*, csv_import: CsvImport, actor: Actor, skip_errors: bool = False, wipe: bool = False,
                      progress=None) -> dict:
    """Apply every previewed row in one transaction, or nothing. Rows in error block it unless skipped.

    The rows are classified again first; any row whose action changed since the preview stops the
    commit (ConcurrentChange): the admin previews again and sees what will really happen. ``progress(done, total,
    phase)`` hears of each step (a job shows it while this transaction is open).
    """
    report = progress or (lambda done, total, phase: None)
    with transaction.atomic():
        try:
            record = CsvImport.objects.select_for_update(nowait=True).select_related("organization").get(
                pk=csv_import.pk, organization_id=csv_import.organization_id
            )
        except OperationalError as exc:
            raise ConcurrentChange(gettext("This import is being committed by someone else right now.")) from exc
        _check_committable(record, skip_errors=skip_errors)
        errors = [row for row in record.rows if row["action"] == Action.ERROR]
        report(0, 3, gettext("Checking the rows again"))
        previewed = {row["line"]: row["action"] for row in record.rows}
        rows = [dict(row) for row in record.rows]
        with csv_rules.gc_paused():
            csv_rules.classify(record.organization, rows, record.kind)
        changed = [row for row in rows if row["action"] != previewed[row["line"]]]
        if changed:
            row = changed[0]
            raise ConcurrentChange(
                gettext("The inventory changed since the preview (line %(line)s was “%(previewed)s”, now "
                        "“%(action)s”). Nothing was imported: upload the file again to see a fresh preview.") % {
                    "line": row['line'], "previewed": previewed[row['line']], "action": row['action']}
            )
        report(1, 3, gettext("Applying the rows"))
        try:
            if record.kind == CsvImport.Kind.ASSIGN:
                result = _commit_assignments(record, rows, actor)
            else:
                result = _commit_moves(record, rows, actor, wipe=wipe)
        except IntegrityError as exc:
            raise ConcurrentChange(gettext("Someone changed the same serial numbers at the same time; nothing "
                                           "was imported. Upload the file again.")) from exc
        result["skipped"] = len(errors)
        report(2, 3, gettext("Recording the import"))
        record.status, record.committed_at = CsvImport.Status.COMMITTED, timezone.now()
        record.committed_by, record.skipped_errors, record.result = actor.label[:200], bool(errors), result
        record.save(update_fields=["status", "committed_at", "committed_by", "skipped_errors", "result", "updated_at"])
        audit_record(organization=record.organization, actor=actor, event="csv_import.committed", target=record,
                     source=Source.CSV_IMPORT, after=result | {"summary": import_summary(result)})
    return result


def import_summary(result: dict) -> str:
    parts = [f"{value} {key.replace('_', ' ')}" for key, value in result.items() if value and key != "skipped"]
    if result.get("skipped"):
        parts.append(f"{result['skipped']} row(s) in error skipped")
    return ", ".join(parts) or "nothing to change"


def _bulk_audit(organization, actor: Actor, event: str, entries, source=Source.CSV_IMPORT) -> None:
    """``audit_record`` for many targets in one statement; ``entries`` are (target, after[, before])."""
    request_id = current_request_id.get()
    AuditEvent.objects.bulk_create([
        AuditEvent(
            organization=organization, event=event, source=source, target_type=target._meta.label_lower,
            target_id=str(target.pk), target_label=str(target)[:255], after=after, before=before[0] if before else {},
            request_id=request_id, **actor.audit_fields,
        )
        for target, after, *before in entries
    ], batch_size=1000)


def _new_employees(organization, rows: list[dict], actor: Actor) -> dict[str, Employee]:
    """Create, in bulk, the employees whose e-mail the organization does not know yet."""
    wanted: dict[str, dict] = {}
    for row in rows:
        if row.get("new_employee"):
            wanted.setdefault(row["email"], row)
    if not wanted:
        return {}
    created = Employee.objects.bulk_create([
        Employee(organization=organization, email=email, username=row["username"], domain_name=row["domain"])
        for email, row in wanted.items()
    ], batch_size=1000)
    if not all(e.pk for e in created):  # SQLite < 3.35 does not return ids: read them back
        by_email = dict(
            Employee.objects.for_org(organization).filter(email__in=list(wanted)).values_list("email", "pk")
        )
        for employee in created:
            employee.pk = by_email[employee.email]
    _bulk_audit(organization, actor, "employee.created", [
        (e, {"email": e.email, "username": e.username, "domain_name": e.domain_name}) for e in created
    ])
    # After commit, as employee_create does: e.g. enrollment invites the new employees.
    transaction.on_commit(lambda: [employee_created.run(employee=e, actor=actor) for e in created])
    return {e.email: e for e in created}


def _commit_assignments(record: CsvImport, rows: list[dict], actor: Actor) -> dict:
    organization = record.organization
    rows = [row for row in rows if row["action"] not in (Action.ERROR, Action.UNCHANGED)]
    new = _new_employees(organization, rows, actor)
    employee_ids = {row["employee_id"] for row in rows if row.get("employee_id")}
    employees = {e.pk: e for e in Employee.objects.for_org(organization).filter(pk__in=employee_ids)}
    group_ids = dict(Group.objects.for_org(organization).values_list("name", "pk"))

    def employee_of(row):
        return employees[row["employee_id"]] if row.get("employee_id") else new[row["email"]]

    result = {"created": 0, "updated": 0, "assigned": 0, "conflicts": 0, "new_employees": len(new)}
    now, label = timezone.now(), actor.label[:200]
    fresh, existing = [], {}
    for row in rows:
        if row.get("pre_assignment_id"):
            existing[row["pre_assignment_id"]] = row
        else:
            fresh.append(row)
    created = []
    for row in fresh:
        pa = PreAssignment(
            organization=organization, serial_number=row["serial"], employee=employee_of(row),
            domain_name=row["domain"], ownership=row["ownership"], source=Source.CSV_IMPORT, created_by=label,
        )
        if row["action"] == Action.CONFLICT:  # named now, from the classification just made in this transaction
            pa.status, pa.device_id, pa.conflict_at, pa.note = (
                PreAssignment.Status.CONFLICT, row["device_id"], now, row["conflict_note"][:255])
        created.append(pa)
    PreAssignment.objects.bulk_create(created, batch_size=1000)
    if created and not all(pa.pk for pa in created):  # backends that return no ids: read them back
        by_serial = dict(PreAssignment.objects.for_org(organization).filter(
            status__in=PreAssignment.ACTIVE, serial_number__in=[r["serial"] for r in fresh]
        ).values_list("serial_number", "pk"))
        for pa in created:
            pa.pk = by_serial[pa.serial_number]
    updated = list(PreAssignment.objects.for_org(organization).filter(pk__in=list(existing)).select_related("employee"))
    for pa in updated:
        row = existing[pa.pk]
        pa.domain_name, pa.ownership = row["domain"], row["ownership"]
    PreAssignment.objects.bulk_update(updated, ["domain_name", "ownership", "updated_at"], batch_size=1000)
    through = PreAssignment.groups.through
    through.objects.filter(preassignment_id__in=[pa.pk for pa in updated]).delete()
    pairs = [(pa, row) for pa, row in zip(created, fresh, strict=True)] + [(pa, existing[pa.pk]) for pa in updated]
    through.objects.bulk_create([
        through(preassignment_id=pa.pk, group_id=group_ids[name]) for pa, row in pairs for name in row["groups"]
    ], batch_size=2000)
    _bulk_audit(organization, actor, "pre_assignment.created", [
        (pa, {"serial_number": pa.serial_number, "employee": pa.employee.email, "groups": row["groups"]})
        for pa, row in zip(created, fresh, strict=True)
    ])
    _bulk_audit(organization, actor, "pre_assignment.updated", [
        (pa, {"groups": existing[pa.pk]["groups"], "domain_name": pa.domain_name, "ownership": pa.ownership})
        for pa in updated
    ])
    conflicts = [pa for pa in created if pa.status == PreAssignment.Status.CONFLICT]
    _bulk_audit(organization, actor, "pre_assignment.conflict", [(pa, {"note": pa.note}) for pa in conflicts])
    result["created"] = sum(1 for row in fresh if row["action"] == Action.CREATE)
    result["updated"] = sum(1 for row in existing.values() if row["action"] == Action.UPDATE)
    result["conflicts"] = len(conflicts)
    result["assigned"] = _assign_now(record, [(pa, row) for pa, row in pairs if row["action"] == Action.ASSIGN_NOW],
                                     actor, group_ids, now)
    org_data_changed(organization.pk)  # bulk writes bypass the signals that refresh the cached list counts
    return result


def _assign_now(record: CsvImport, pairs, actor: Actor, group_ids: dict, now) -> int:
    """Rows whose device is here and unassigned. Each assignment is a device move (row lock, history, audit);
    everything around it (groups, ownership, the pre-assignments' state, their audit) is written in bulk."""
    if not pairs:
        return 0
    organization = record.organization
    try:
        assigned = device_services.device_assign_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                                                      assignments=[
            device_services.Assignment(row["device_id"], pa.employee, f"CSV import #{record.pk}, line {row['line']}")
            for pa, row in pairs
        ])
    except DomainError as exc:  # the preview said otherwise: something changed since
        raise ConcurrentChange(gettext("%(message)s Nothing was imported; upload the file again.") % {
            "message": exc.message}) from exc
    devices = {device.pk: device for device in assigned}
    _bulk_device_fields(organization, actor, devices,
                        {row["device_id"]: (row["groups"], row["ownership"]) for _, row in pairs}, group_ids, now)
    for pa, row in pairs:
        pa.status, pa.device_id, pa.applied_at, pa.settled_by = (
            PreAssignment.Status.APPLIED, row["device_id"], now, actor.label[:200])
    PreAssignment.objects.bulk_update([pa for pa, _ in pairs], ["status", "device", "applied_at", "settled_by",
                                                                 "updated_at"], batch_size=1000)
    _bulk_audit(organization, actor, "pre_assignment.applied", [
        (pa, {"device": str(devices[row["device_id"]]), "employee": pa.employee.email}) for pa, row in pairs
    ])
    return len(pairs)


def _bulk_device_fields(organization, actor: Actor, devices: dict, wanted: dict, group_ids: dict, now) -> None:
    """Set the groups and ownership of many devices as ``device_update`` does one (version bumped, one
    ``device.updated`` audit entry per device that changed), in a few statements."""
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
    device_groups.objects.bulk_create([
        device_groups(device_id=pk, group_id=group_ids[name]) for pk in regroup for name in changes[pk][1]["groups"]
    ], batch_size=2000)
    for ownership in Ownership.values:
        owned = [pk for pk, (_, after) in changes.items() if after.get("ownership") == ownership]
        if owned:
            Device.objects.filter(pk__in=owned).update(ownership=ownership)
    Device.objects.filter(pk__in=list(changes)).update(version=F("version") + 1, updated_at=now)
    _bulk_audit(organization, actor, "device.updated", [
        (devices[pk], after, before) for pk, (before, after) in changes.items()
    ])


def _commit_moves(record: CsvImport, rows: list[dict], actor: Actor, *, wipe: bool) -> dict:
    move = (device_services.device_unassign if record.kind == CsvImport.Kind.UNASSIGN
            else device_services.device_return_to_stock)
    to_move = [row for row in rows if row["action"] in (Action.UNASSIGN, Action.RETURN_TO_STOCK)]
    devices = Device.objects.for_org(record.organization).in_bulk([row["device_id"] for row in to_move])
    for row in to_move:
        move(device=devices[row["device_id"]], actor=actor, source=Source.CSV_IMPORT, wipe=wipe,
             reason=f"CSV import #{record.pk}, line {row['line']}")
    return {"unassigned" if record.kind == CsvImport.Kind.UNASSIGN else "returned_to_stock": len(to_move)}
