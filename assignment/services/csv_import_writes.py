"""The CSV import commit's writes (DESIGN §6): a few set-based statements and ``COPY``s (``core.bulk``) per chunk of
rows, not one model instance per row. The rows come classified (``assignment.csv_import.classify``); the commit in
``assignment.services.csv_imports`` calls these in its one transaction.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from assignment.csv_import import Action
from assignment.models import CsvImport, PreAssignment
from core import bulk
from core.actors import Actor
from core.audit import Phrase, Source, audit_record_many
from core.errors import ConcurrentChange, DomainError
from core.hooks import employee_created
from core.models import Employee
from core.paging import org_data_changed
from devices import services as device_services
from devices.models import Device

# --- the commit's writes: a few set-based statements and COPYs (``core.bulk``), not one model instance per row --------

PRE_ASSIGNMENT_FIELDS = ["organization", "serial_number", "employee", "domain_name", "ownership", "source",
                         "created_by", "status", "device", "note", "conflict_at", "applied_at", "settled_by"]
PRE_ASSIGNMENT_TARGET = PreAssignment._meta.label_lower
DEVICE_TARGET = Device._meta.label_lower


def _new_employees(organization, rows: list[dict], actor: Actor, created: dict[str, int]) -> dict[str, int]:
    """Create, in bulk, the employees whose e-mail the organization does not know yet: their ids by e-mail, added to
    ``created`` (those an earlier chunk of the same commit created, not created again).

    The ids come from the table's sequence in the same statement as the insert (``core.bulk``), so the rows that
    name a new employee reference it without reading anything back."""
    wanted: dict[str, dict] = {}
    for row in rows:
        if row.get("new_employee") and row["email"] not in created:
            wanted.setdefault(row["email"], row)
    if not wanted:
        return created
    ids = bulk.insert_rows(Employee, ["organization", "email", "username", "domain_name"], [
        (organization.pk, email, row["username"], row["domain"]) for email, row in wanted.items()
    ], returning_ids=True)
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="employee.created", target_type=Employee._meta.label_lower, entries=[
        (pk, email, {"email": email, "username": wanted[email]["username"], "domain_name": wanted[email]["domain"]})
        for email, pk in zip(wanted, ids, strict=True)
    ])
    created.update(zip(wanted, ids, strict=True))

    def announce():  # after commit, as employee_create does: e.g. enrollment invites the new employees
        for employee in Employee.objects.for_org(organization).filter(pk__in=ids).order_by("pk"):
            employee.organization = organization  # read once for all of them
            employee_created.run(employee=employee, actor=actor)

    transaction.on_commit(announce)
    return created


def commit_assignments(record: CsvImport, rows: list[dict], actor: Actor, found: dict,
                       created: dict[str, int]) -> dict:
    """Write the classified rows; ``found`` is what the classification looked up (employees, groups), ``created``
    the employees earlier chunks created (by e-mail), which this one adds to."""
    organization = record.organization
    rows = [row for row in rows if row["action"] not in (Action.ERROR, Action.UNCHANGED)]
    before = len(created)
    new = _new_employees(organization, rows, actor, created)
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
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="pre_assignment.created", target_type=PRE_ASSIGNMENT_TARGET, entries=(
        (row["pre_assignment_id"], row["serial"], {
            "serial_number": row["serial"], "employee": emails.get(row["employee_id"], row["email"]),
            "groups": row["groups"]})
        for row in fresh))
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="pre_assignment.updated", target_type=PRE_ASSIGNMENT_TARGET, entries=(
        (row["pre_assignment_id"], row["serial"], {
            "groups": row["groups"], "domain_name": row["domain"], "ownership": row["ownership"]})
        for row in existing))
    conflicts = [row for row in fresh if row["action"] == Action.CONFLICT]
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="pre_assignment.conflict", target_type=PRE_ASSIGNMENT_TARGET, entries=(
        (row["pre_assignment_id"], row["serial"], {"note": row["conflict_note"][:255]}) for row in conflicts))
    result = {
        "created": sum(1 for row in fresh if row["action"] == Action.CREATE),
        "updated": sum(1 for row in existing if row["action"] == Action.UPDATE),
        "assigned": _assign_now(record, [row for row in fresh + existing if row["action"] == Action.ASSIGN_NOW],
                                actor, group_ids, now),
        "conflicts": len(conflicts), "new_employees": len(new) - before,
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
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="pre_assignment.applied", target_type=PRE_ASSIGNMENT_TARGET, entries=(
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
    audit_record_many(organization=organization, actor=actor, source=Source.CSV_IMPORT,
                      event="device.updated", target_type=DEVICE_TARGET, entries=(
        (pk, str(devices[pk]), after, before) for pk, (before, after) in changes.items()))


def commit_moves(record: CsvImport, rows: list[dict], actor: Actor, *, wipe: bool) -> dict:
    move = (device_services.device_unassign if record.kind == CsvImport.Kind.UNASSIGN
            else device_services.device_return_to_stock)
    to_move = [row for row in rows if row["action"] in (Action.UNASSIGN, Action.RETURN_TO_STOCK)]
    devices = Device.objects.for_org(record.organization).in_bulk([row["device_id"] for row in to_move])
    for row in to_move:
        move(device=devices[row["device_id"]], actor=actor, source=Source.CSV_IMPORT, wipe=wipe,
             reason=Phrase("csv_import.line", {"id": record.pk, "line": row["line"]}))
    return {"unassigned" if record.kind == CsvImport.Kind.UNASSIGN else "returned_to_stock": len(to_move)}
