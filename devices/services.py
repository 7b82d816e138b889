"""Device state changes (DESIGN §4).

Every change runs in one transaction on a row-locked device, checks the current state first,
refuses an illegal move with a domain error, bumps ``version``, and writes one history row and one
audit entry. A second action arriving while the first holds the lock gets a conflict, not a wait.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import bulk
from core.actors import Actor
from core.audit import Phrase, Source, audit_record, audit_record_many
from core.errors import ConcurrentChange, IllegalTransition, InvalidInput
from core.events import PHRASE_SUFFIX, with_phrase
from core.hooks import groups_changed_on_commit
from core.models import Employee, Organization
from core.selectors import device_technicians, groups_by_names
from devices.commands import command_request
from devices.hooks import device_created
from devices.models import (
    AssignmentStatus,
    AvailabilityStatus,
    Device,
    DeviceCommand,
    DeviceHistory,
    EnrollmentStatus,
    Ownership,
    Platform,
    Usage,
)

DESCRIPTIVE_FIELDS = ("serial_number", "name", "platform", "model", "os_version", "ownership", "usage", "notes")


def device_enrollment_status(device: Device) -> str:
    """The enrollment status that follows from the device's milestones and open issues (DESIGN §3).

    Activation (MDM enrollment seen) and user assignment complete in either order; ``enrolled``
    needs both. A shared device needs no owner.
    """
    if device.unenrolled_at:
        return EnrollmentStatus.UNENROLLED
    if device.enrollment_issues:
        return EnrollmentStatus.PARTIALLY_ENROLLED
    if not device.mdm_enrolled_at:
        return EnrollmentStatus.AWAITING_ACTIVATION
    if device.assignee_id is None and device.usage != Usage.SHARED:
        return EnrollmentStatus.AWAITING_USER_ASSIGNMENT
    return EnrollmentStatus.ENROLLED


# --- descriptive data ------------------------------------------------------------------------


def normalize_serial(serial: str | None) -> str:
    return (serial or "").strip().upper()


def _check_choice(value, choices, field):
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise InvalidInput(_("“%(value)s” is not a valid %(field)s: use one of %(allowed)s.") % {
            "value": value, "field": field, "allowed": allowed}, field=field)


def _apply_descriptive_fields(device: Device, fields: dict) -> None:
    unknown = set(fields) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise InvalidInput(_("Unknown device field: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
                           field=sorted(unknown)[0])
    for key, value in fields.items():
        if key == "serial_number":
            value = normalize_serial(value)
        elif key == "platform":
            _check_choice(value, Platform, "platform")
        elif key == "ownership":
            _check_choice(value, Ownership, "ownership")
        elif key == "usage":
            _check_choice(value, Usage, "usage")
        elif isinstance(value, str):
            value = value.strip()
        setattr(device, key, value)


def _save_unique(device: Device) -> None:
    if device.serial_number:
        clash = Device.objects.for_org(device.organization).filter(serial_number=device.serial_number)
        if device.pk:
            clash = clash.exclude(pk=device.pk)
        if clash.exists():
            raise InvalidInput(
                _("A device with the serial number %(serial)s already exists.") % {"serial": device.serial_number},
                field="serial_number",
            )
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError as exc:
        raise InvalidInput(_("A device with this serial number already exists."), field="serial_number") from exc


def _descriptive_snapshot(device: Device) -> dict:
    technician = device.responsible_technician.get_username() if device.responsible_technician_id else None
    return {field: getattr(device, field) for field in DESCRIPTIVE_FIELDS} | {"responsible_technician": technician}


_UNSET = object()


def _set_technician(device: Device, technician, *, given: bool) -> None:
    """A shared or kiosk device answers to an IT technician instead of an owner (DESIGN §3).

    Switching a device back to individual use drops its technician unless one is given with it.
    """
    if given:
        device.responsible_technician = technician
    elif device.usage != Usage.SHARED:
        device.responsible_technician = None
    if device.responsible_technician_id is None:
        return
    if device.usage != Usage.SHARED:
        raise InvalidInput(_("Only a shared device has a responsible technician; an individual one has an owner."),
                           field="responsible_technician")
    if not device_technicians(organization=device.organization).filter(pk=device.responsible_technician_id).exists():
        raise InvalidInput(_("The responsible technician must be a technician, admin or owner of this organization."),
                           field="responsible_technician")


@transaction.atomic
def device_create(
    *, organization: Organization, actor: Actor, source: str = Source.MANUAL, groups=None,
    responsible_technician=None, **fields,
) -> Device:
    """A device added by hand (or by API) starts in stock, to assign, awaiting activation."""
    device = Device(organization=organization)
    _apply_descriptive_fields(device, fields)
    if not device.serial_number and not device.name:
        raise InvalidInput(_("Give the device a serial number or a name."), field="serial_number")
    _set_technician(device, responsible_technician, given=True)
    group_objs = groups_by_names(organization=organization, names=groups or [])
    device.enrollment_status = device_enrollment_status(device)
    _save_unique(device)
    device.groups.set(group_objs)
    groups_changed_on_commit(organization=organization, group_ids=[g.pk for g in group_objs])
    DeviceHistory.objects.create(
        organization=organization, device=device, action=DeviceHistory.Action.CREATED, source=source,
        actor_label=actor.label[:200], availability_after=device.availability_status,
        assignment_after=device.assignment_status or "",
    )
    audit_record(
        organization=organization, actor=actor, event="device.created", target=device, source=source,
        after=_descriptive_snapshot(device) | {"groups": [g.name for g in group_objs]},
    )
    if device_created.names:  # e.g. a waiting pre-assignment applies at once; the caller sees the result
        device_created.run(device=device, actor=actor)
        device.refresh_from_db()
    return device


@transaction.atomic
def device_update(*, device: Device, actor: Actor, groups=None, expected_version: int | None = None,
                  responsible_technician=_UNSET, **fields) -> Device:
    """Edit what a device is (name, serial, platform…); its statuses change only through the moves below."""
    locked = _lock(device, expected_version)
    before = _descriptive_snapshot(locked) | {"groups": sorted(g.name for g in locked.groups.all())}
    _apply_descriptive_fields(locked, fields)
    if not locked.serial_number and not locked.name:
        raise InvalidInput(_("A device keeps a serial number or a name."), field="serial_number")
    given = responsible_technician is not _UNSET
    _set_technician(locked, responsible_technician if given else None, given=given)
    group_objs = None if groups is None else groups_by_names(organization=locked.organization, names=groups)
    after = _descriptive_snapshot(locked) | {
        "groups": before["groups"] if group_objs is None else sorted(g.name for g in group_objs)
    }
    changed = {k for k in after if after[k] != before[k]}
    if not changed:
        return locked
    # Any edit bumps the version, so a form opened before it is refused as stale.
    locked.version += 1
    locked.enrollment_status = device_enrollment_status(locked)
    _save_unique(locked)
    if group_objs is not None:
        previous = set(locked.groups.values_list("pk", flat=True))
        locked.groups.set(group_objs)
        groups_changed_on_commit(organization=locked.organization, group_ids=previous ^ {g.pk for g in group_objs})
    audit_record(
        organization=locked.organization, actor=actor, event="device.updated", target=locked,
        before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
    )
    return locked


# --- status moves ----------------------------------------------------------------------------


def _lock(device: Device, expected_version: int | None) -> Device:
    try:
        # No join on the assignee here: if another move commits between this statement's snapshot and
        # its row lock, PostgreSQL re-reads the new device row but keeps the old, now unmatched, employee
        # row (assignee_id set, assignee None). The assignee is loaded after the lock instead.
        locked = (
            Device.objects.select_for_update(nowait=True, of=("self",))
            .select_related("organization")
            .get(pk=device.pk, organization_id=device.organization_id)
        )
    except OperationalError as exc:  # PostgreSQL: another transaction holds this device's row lock
        raise ConcurrentChange(_("Another change to this device is in progress; try again in a moment.")) from exc
    if expected_version is not None and locked.version != expected_version:
        raise ConcurrentChange(_("This device was changed by someone else since you opened it; reload and try again."))
    return locked


def _status_snapshot(device: Device) -> dict:
    return {
        "availability_status": device.availability_status,
        "assignment_status": device.assignment_status,
        "assignee": device.assignee.email if device.assignee_id else None,
        "enrollment_status": device.enrollment_status,
    }


def _check_employee(device: Device, employee: Employee) -> None:
    """The employee exists in the device's organization and is active *now*.

    The status is read again under a row lock rather than trusted from the object handed in: a stale
    object, or an offboarding completing at the same moment (it locks the employee), must not let a
    device go to someone who has left.
    """
    if employee is None or employee.organization_id != device.organization_id:
        raise InvalidInput(_("Unknown employee."), field="employee")
    status = (
        Employee.objects.select_for_update().filter(pk=employee.pk, organization_id=device.organization_id)
        .values_list("status", flat=True).first()
    )
    if status is None:
        raise InvalidInput(_("Unknown employee."), field="employee")
    if status != Employee.Status.ACTIVE:
        raise InvalidInput(_("%(name)s has been offboarded and cannot receive devices.") % {
            "name": employee.display_name}, field="employee")


def _reason_fields(reason: str | Phrase) -> tuple[dict, dict]:
    """A move's reason: the history row's fields, and the audit entry's keys. A person's note is kept as typed; a
    reason a service gives is a ``Phrase``, kept as its code too (``reason_phrase``) so the cockpit shows it in the
    reader's language while the API keeps the text."""
    if not reason:
        return {}, {}
    audit = with_phrase("reason", reason)
    return audit | {"reason": audit["reason"][:500]}, audit


def _move(
    *, device: Device, actor: Actor, source: str, action: str, event: str, apply: Callable[[Device], None],
    wipe: bool = False, remove_from_fleet: bool = False, hand_over_to: Employee | None = None,
    reason: str | Phrase = "", expected_version: int | None = None,
) -> Device:
    """One move: lock, check and apply, history, audit, and the MDM commands it asks for (same transaction).
    ``reason``: a person's note, or a service's ``Phrase``."""
    reason_history, reason_audit = _reason_fields(reason)
    with transaction.atomic():
        locked = _lock(device, expected_version)
        before = _status_snapshot(locked)
        assignee_before = locked.assignee
        apply(locked)
        locked.enrollment_status = device_enrollment_status(locked)
        locked.version += 1
        locked.save(update_fields=[
            "availability_status", "assignment_status", "assignee", "assigned_at", "archived_at",
            "enrollment_status", "version", "updated_at",
        ])
        after = _status_snapshot(locked)
        DeviceHistory.objects.create(
            organization=locked.organization, device=locked, action=action, source=source,
            actor_label=actor.label[:200], **reason_history,
            availability_before=before["availability_status"], availability_after=after["availability_status"],
            assignment_before=before["assignment_status"] or "", assignment_after=after["assignment_status"] or "",
            assignee_before=assignee_before, assignee_after=locked.assignee, wipe_requested=wipe,
        )
        audit_record(
            organization=locked.organization, actor=actor, event=event, target=locked, source=source,
            before=before,
            after=after | ({"wipe_requested": True} if wipe else {})
            | ({"fleet_removal_requested": True} if remove_from_fleet else {}) | reason_audit,
        )
        if wipe:
            command_request(device=locked, kind=DeviceCommand.Kind.WIPE, actor=actor, source=source,
                            hand_over_to=hand_over_to)
        if remove_from_fleet:
            command_request(device=locked, kind=DeviceCommand.Kind.REMOVE, actor=actor, source=source)
        if before["availability_status"] != after["availability_status"] and AvailabilityStatus.ARCHIVED in (
                before["availability_status"], after["availability_status"]):  # an archived device is in no label
            groups_changed_on_commit(organization=locked.organization,
                                     group_ids=locked.groups.values_list("pk", flat=True))
    return locked


# One sentence per move, each translated whole (a verb spliced into a sentence does not translate).
ARCHIVED_REFUSALS = {
    "assign": gettext_lazy("%(device)s is archived; restore it before you assign it."),
    "reassign": gettext_lazy("%(device)s is archived; restore it before you reassign it."),
    "unassign": gettext_lazy("%(device)s is archived; restore it before you unassign it."),
    "return to stock": gettext_lazy("%(device)s is archived; restore it before you return it to stock."),
    "unenroll": gettext_lazy("%(device)s is archived; restore it before you unenroll it."),
}


def _refuse_archived(device: Device, verb: str) -> None:
    if device.is_archived:
        raise IllegalTransition(ARCHIVED_REFUSALS[verb] % {"device": device})


def _refuse_shared(device: Device) -> None:
    """A shared or kiosk device answers to a responsible technician and never gets an owner (DESIGN §3)."""
    if device.usage != Usage.SHARED:
        return
    if device.responsible_technician_id:
        message = _("%(device)s is a shared device: %(technician)s answers for it and it has no owner. "
                    "Switch it to individual use first to give it to someone.") % {
            "device": device, "technician": device.responsible_technician.get_username()}
    else:
        message = _("%(device)s is a shared device and has no owner. "
                    "Switch it to individual use first to give it to someone.") % {"device": device}
    raise IllegalTransition(message)


def device_assign(
    *, device: Device, employee: Employee, actor: Actor, source: str = Source.MANUAL, reason: str = "",
    expected_version: int | None = None,
) -> Device:
    """Give an unassigned device to an active employee; an in-stock device becomes in use."""

    def apply(d: Device) -> None:
        _refuse_archived(d, "assign")
        _refuse_shared(d)
        _check_employee(d, employee)
        if d.assignee_id is not None:
            if d.assignee_id == employee.pk:
                raise IllegalTransition(_("%(device)s is already assigned to %(name)s.") % {
                    "device": d, "name": employee.display_name})
            raise IllegalTransition(_("%(device)s is already assigned to %(name)s; reassign it instead.") % {
                "device": d, "name": d.assignee.display_name})
        d.availability_status = AvailabilityStatus.IN_USE
        d.assignment_status = AssignmentStatus.ASSIGNED
        d.assignee = employee
        d.assigned_at = timezone.now()

    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.ASSIGNED,
                 event="device.assigned", apply=apply, reason=reason, expected_version=expected_version)


# The history row of a bulk assignment (device_assign_many), as plain values in this order.
_ASSIGNED_HISTORY_FIELDS = ["organization", "device", "action", "source", "actor_label", "reason", "reason_phrase",
                            "availability_before", "availability_after", "assignment_before", "assignment_after",
                            "assignee_after"]


@dataclass(frozen=True)
class Assignment:
    """One line of :func:`device_assign_many`."""

    device_id: int
    employee: Employee
    reason: str | Phrase = ""  # a person's note, or a service's Phrase (as a single move's)


@transaction.atomic
def device_assign_many(
    *, organization: Organization, assignments: list[Assignment], actor: Actor, source: str,
) -> list[Device]:
    """``device_assign`` for many devices at once (CSV import, automatic modes): the same rules, history and
    audit, in a few statements instead of several per device.

    All or nothing: the first device that cannot be assigned (archived, already assigned, employee not
    active, another change in progress) raises and nothing is written. Rows are locked in id order, so two
    bulk runs cannot deadlock; a row another transaction holds answers ``ConcurrentChange`` at once.
    """
    if not assignments:
        return []
    ids = [a.device_id for a in assignments]
    if len(set(ids)) != len(ids):
        raise InvalidInput(_("A device appears twice in one bulk assignment."), field="device")
    try:
        devices = {
            d.pk: d for d in Device.objects.select_for_update(nowait=True, of=("self",))
            .filter(organization=organization, pk__in=ids).order_by("pk")
        }
    except OperationalError as exc:
        raise ConcurrentChange(
            _("Another change to one of these devices is in progress; try again in a moment.")) from exc
    employee_ids = {a.employee.pk for a in assignments}
    active = set(
        Employee.objects.select_for_update().filter(
            organization=organization, pk__in=employee_ids, status=Employee.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    now = timezone.now()
    histories, audits, changed = [], [], []
    actor_label = actor.label[:200]
    for line in assignments:
        device, employee = devices.get(line.device_id), line.employee
        reason_history, reason_audit = _reason_fields(line.reason)
        if device is None:
            raise InvalidInput(_("Unknown device #%(id)s.") % {"id": line.device_id}, field="device")
        _refuse_archived(device, "assign")
        _refuse_shared(device)
        if employee.pk not in active:
            raise InvalidInput(_("%(name)s is not an active employee of this organization.") % {
                "name": employee.display_name}, field="employee")
        if device.assignee_id is not None:
            raise IllegalTransition(_("%(device)s is already assigned; reassign it instead.") % {"device": device})
        before = {"availability_status": device.availability_status, "assignment_status": device.assignment_status,
                  "assignee": None, "enrollment_status": device.enrollment_status}
        device.availability_status = AvailabilityStatus.IN_USE
        device.assignment_status = AssignmentStatus.ASSIGNED
        device.assignee = employee
        device.assigned_at = now
        device.enrollment_status = device_enrollment_status(device)
        device.version += 1
        device.updated_at = now
        changed.append(device)
        after = {"availability_status": device.availability_status, "assignment_status": device.assignment_status,
                 "assignee": employee.email, "enrollment_status": device.enrollment_status}
        histories.append((
            organization.pk, device.pk, DeviceHistory.Action.ASSIGNED, source, actor_label,
            reason_history.get("reason", ""), reason_history.get("reason" + PHRASE_SUFFIX, {}),
            before["availability_status"], after["availability_status"], before["assignment_status"] or "",
            after["assignment_status"], employee.pk,
        ))
        audits.append((device.pk, str(device), after | reason_audit, before))
    bulk.staged_update(Device, changed, [
        "availability_status", "assignment_status", "assignee", "assigned_at", "enrollment_status", "version",
        "updated_at",
    ])
    bulk.insert_rows(DeviceHistory, _ASSIGNED_HISTORY_FIELDS, histories)  # plain rows: no model instance each
    audit_record_many(organization=organization, actor=actor, event="device.assigned", source=source,
                      target_type=Device._meta.label_lower, entries=audits)
    return changed


def device_reassign(
    *, device: Device, employee: Employee, actor: Actor, source: str = Source.MANUAL, wipe: bool = False,
    reason: str = "", expected_version: int | None = None,
) -> Device:
    """Hand an assigned device from its owner to another active employee.

    With a wipe, in an organization that holds reassigned devices until their wipe is confirmed, the device
    comes back to stock first and the wipe names the new owner: the sync that confirms the erase hands it
    over (``devices.commands``).
    """

    def check(d: Device) -> None:
        _refuse_archived(d, "reassign")
        _refuse_shared(d)
        _check_employee(d, employee)
        if d.assignee_id is None:
            raise IllegalTransition(_("%(device)s has no owner; assign it instead.") % {"device": d})
        if d.assignee_id == employee.pk:
            raise InvalidInput(_("%(device)s is already assigned to %(name)s.") % {
                "device": d, "name": employee.display_name}, field="employee")

    def apply(d: Device) -> None:
        check(d)
        d.assignee = employee
        d.assigned_at = timezone.now()

    def hold(d: Device) -> None:
        check(d)
        d.availability_status = AvailabilityStatus.IN_STOCK
        d.assignment_status = AssignmentStatus.TO_ASSIGN
        d.assignee = None
        d.assigned_at = None

    organization = Organization.objects.only("offboarding_hold_until_wipe").get(pk=device.organization_id)
    if wipe and organization.offboarding_hold_until_wipe:
        held_reason = Phrase("devices.held_until_wipe", {"name": employee.display_name}, note=reason)
        return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.RETURNED_TO_STOCK,
                     event="device.returned_to_stock", apply=hold, wipe=True, hand_over_to=employee,
                     reason=held_reason, expected_version=expected_version)
    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.REASSIGNED,
                 event="device.reassigned", apply=apply, wipe=wipe, reason=reason, expected_version=expected_version)


def device_unassign(
    *, device: Device, actor: Actor, source: str = Source.MANUAL, wipe: bool = False, reason: str = "",
    expected_version: int | None = None,
) -> Device:
    """Remove the owner; the device stays in use, to assign."""

    def apply(d: Device) -> None:
        _refuse_archived(d, "unassign")
        if d.assignee_id is None:
            raise IllegalTransition(_("%(device)s is not assigned to anyone.") % {"device": d})
        d.assignment_status = AssignmentStatus.TO_ASSIGN
        d.assignee = None
        d.assigned_at = None

    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.UNASSIGNED,
                 event="device.unassigned", apply=apply, wipe=wipe, reason=reason, expected_version=expected_version)


def device_return_to_stock(
    *, device: Device, actor: Actor, source: str = Source.MANUAL, wipe: bool = False, reason: str = "",
    expected_version: int | None = None,
) -> Device:
    """Back on the shelf: in stock, nobody has it."""

    def apply(d: Device) -> None:
        _refuse_archived(d, "return to stock")
        if d.availability_status == AvailabilityStatus.IN_STOCK:
            raise IllegalTransition(_("%(device)s is already in stock.") % {"device": d})
        d.availability_status = AvailabilityStatus.IN_STOCK
        d.assignment_status = AssignmentStatus.TO_ASSIGN
        d.assignee = None
        d.assigned_at = None

    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.RETURNED_TO_STOCK,
                 event="device.returned_to_stock", apply=apply, wipe=wipe, reason=reason,
                 expected_version=expected_version)


def device_archive(
    *, device: Device, actor: Actor, source: str = Source.MANUAL, wipe: bool = False,
    remove_from_fleet: bool = False, reason: str = "", expected_version: int | None = None,
) -> Device:
    """Remove from the fleet; the device and its history are kept. ``remove_from_fleet`` also releases it
    from the MDM (Fleet's delete host, after turning MDM off on Apple devices), after its wipe if one is asked."""

    def apply(d: Device) -> None:
        if d.is_archived:
            raise IllegalTransition(_("%(device)s is already archived.") % {"device": d})
        d.availability_status = AvailabilityStatus.ARCHIVED
        d.assignment_status = None
        d.assignee = None
        d.assigned_at = None
        d.archived_at = timezone.now()

    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.ARCHIVED,
                 event="device.archived", apply=apply, wipe=wipe, remove_from_fleet=remove_from_fleet, reason=reason,
                 expected_version=expected_version)


def device_restore(
    *, device: Device, actor: Actor, source: str = Source.MANUAL, reason: str = "",
    expected_version: int | None = None,
) -> Device:
    """Bring an archived device back into stock."""

    def apply(d: Device) -> None:
        if not d.is_archived:
            raise IllegalTransition(_("%(device)s is not archived.") % {"device": d})
        d.availability_status = AvailabilityStatus.IN_STOCK
        d.assignment_status = AssignmentStatus.TO_ASSIGN
        d.archived_at = None

    return _move(device=device, actor=actor, source=source, action=DeviceHistory.Action.RESTORED,
                 event="device.restored", apply=apply, reason=reason, expected_version=expected_version)


def device_mark_unenrolled(
    *, device: Device, actor: Actor, source: str = Source.ENROLLMENT, reason: str | Phrase = "",
) -> Device:
    """The host was removed from the MDM (auto-unenrollment purge): ``unenrolled``, owner and availability kept.

    Idempotent: an already unenrolled device is returned unchanged. A later sync that sees the device
    enrolled again clears ``unenrolled_at``.
    """
    with transaction.atomic():
        locked = _lock(device, None)
        if locked.unenrolled_at is not None:
            return locked
        _refuse_archived(locked, "unenroll")
        before = _status_snapshot(locked)
        locked.unenrolled_at = timezone.now()
        locked.enrollment_status = device_enrollment_status(locked)
        locked.fleet_facts_hash = ""  # the next sync looks at the host again, even if Fleet lists it unchanged
        locked.version += 1
        locked.save(update_fields=["unenrolled_at", "enrollment_status", "fleet_facts_hash", "version", "updated_at"])
        after = _status_snapshot(locked)
        reason_history, reason_audit = _reason_fields(reason)
        DeviceHistory.objects.create(
            organization=locked.organization, device=locked, action=DeviceHistory.Action.UNENROLLED, source=source,
            actor_label=actor.label[:200], **reason_history,
            availability_before=before["availability_status"], availability_after=after["availability_status"],
            assignment_before=before["assignment_status"] or "", assignment_after=after["assignment_status"] or "",
            assignee_before=locked.assignee, assignee_after=locked.assignee,
        )
        audit_record(organization=locked.organization, actor=actor, event="device.unenrolled", target=locked,
                     source=source, before=before, after=after | reason_audit)
    return locked
