"""Pre-assignment state changes (DESIGN §6).

A pre-assignment is applied only to a device that exists, is not archived and has no owner (source
``pre_assignment``, through ``devices.services.device_assign``, groups and ownership set); a device
that belongs to someone else makes it a ``conflict`` an admin settles: never a silent reassignment.
Applied automatically (after a sync, or when a device is added), it waits while its employee's offboarding is
under way (``devices.rules``), with the reason in its note; a person applying it (creation, "Apply now",
a CSV commit) goes ahead, warned.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from assignment.models import DEFAULT_DOMAIN_NAME, PreAssignment
from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput
from core.events import phrase_fields
from core.models import Employee, Organization
from core.selectors import employees_leaving, groups_by_names
from devices import rules
from devices import services as device_services
from devices.models import Device, Ownership, Usage

logger = logging.getLogger(__name__)


def _snapshot(pa: PreAssignment, groups=None) -> dict:
    names = sorted(g.name for g in (groups if groups is not None else pa.groups.all()))
    return {
        "serial_number": pa.serial_number, "employee": pa.employee.email, "groups": names,
        "domain_name": pa.domain_name, "ownership": pa.ownership, "status": pa.status,
    }


def _check_fields(*, organization, serial_number, employee, ownership, domain_name, groups):
    serial = device_services.normalize_serial(serial_number)
    if not serial:
        raise InvalidInput(gettext("Give the serial number of the device."), field="serial_number")
    if len(serial) > 100:
        raise InvalidInput(gettext("A serial number has at most 100 characters."), field="serial_number")
    if employee is None or employee.organization_id != organization.pk:
        raise InvalidInput(gettext("Unknown employee."), field="employee")
    if not employee.is_active:
        raise InvalidInput(gettext("%(display_name)s has been offboarded and cannot receive devices.") % {
            "display_name": employee.display_name}, field="employee")
    if ownership not in Ownership.values:
        raise InvalidInput(gettext("“%(ownership)s” is not a valid ownership: use corporate or personal.") % {
            "ownership": ownership}, field="ownership")
    domain = (domain_name or "").strip() or DEFAULT_DOMAIN_NAME
    if len(domain) > 150:
        raise InvalidInput(gettext("A domain name has at most 150 characters."), field="domain_name")
    return serial, domain, groups_by_names(organization=organization, names=groups or [])


def _refuse_active_twin(organization, serial, exclude_pk=None):
    twins = PreAssignment.objects.for_org(organization).filter(serial_number=serial, status__in=PreAssignment.ACTIVE)
    if exclude_pk:
        twins = twins.exclude(pk=exclude_pk)
    twin = twins.select_related("employee").first()
    if twin is not None:
        raise InvalidInput(
            gettext("The serial number %(serial)s is already pre-assigned to %(email)s; cancel that one first.") % {
                "serial": serial, "email": twin.employee.email},
            field="serial_number",
        )


def _set_note(pa: PreAssignment, note: str | Phrase) -> None:
    """The note and its code beside it: a service's note is a ``Phrase``, read in the reader's language."""
    for name, value in phrase_fields("note", note, 255).items():
        setattr(pa, name, value)


def _save(pa: PreAssignment) -> None:
    try:
        with transaction.atomic():
            pa.save()
    except IntegrityError as exc:  # a concurrent pre-assignment of the same serial won
        raise ConcurrentChange(gettext("The serial number %(serial_number)s was just pre-assigned by someone else.") % {
            "serial_number": pa.serial_number}) from exc


@transaction.atomic
def pre_assignment_create(
    *, organization: Organization, actor: Actor, serial_number: str, employee: Employee, groups=None,
    domain_name: str = "", ownership: str = Ownership.CORPORATE, source: str = Source.MANUAL,
) -> PreAssignment:
    """Bind a serial to an employee; applied at once if the device is already here and unassigned."""
    serial, domain, group_objs = _check_fields(
        organization=organization, serial_number=serial_number, employee=employee, ownership=ownership,
        domain_name=domain_name, groups=groups,
    )
    _refuse_active_twin(organization, serial)
    pa = PreAssignment(
        organization=organization, serial_number=serial, employee=employee, domain_name=domain, ownership=ownership,
        source=source, created_by=actor.label[:200],
    )
    _save(pa)
    pa.groups.set(group_objs)
    audit_record(organization=organization, actor=actor, event="pre_assignment.created", target=pa, source=source,
                 after=_snapshot(pa, group_objs))
    _apply_if_device(pa, actor=actor)
    return pa


def _lock(pa: PreAssignment) -> PreAssignment:
    return (
        PreAssignment.objects.select_for_update(of=("self",)).select_related("employee", "organization")
        .get(pk=pa.pk, organization_id=pa.organization_id)
    )


@transaction.atomic
def pre_assignment_update(*, pre_assignment: PreAssignment, actor: Actor, **changes) -> PreAssignment:
    """Edit a waiting or conflicting pre-assignment (serial, employee, groups, domain, ownership)."""
    pa = _lock(pre_assignment)
    if not pa.is_active:
        raise IllegalTransition(gettext("This pre-assignment is %(status)s: it can no longer change.") % {
            "status": pa.get_status_display().lower()})
    unknown = set(changes) - {"serial_number", "employee", "groups", "domain_name", "ownership"}
    if unknown:
        raise InvalidInput(gettext("Unknown field: %(fields)s") % {
            "fields": ', '.join(sorted(unknown))}, field=sorted(unknown)[0])
    before = _snapshot(pa)
    serial, domain, group_objs = _check_fields(
        organization=pa.organization, serial_number=changes.get("serial_number", pa.serial_number),
        employee=changes.get("employee", pa.employee), ownership=changes.get("ownership", pa.ownership),
        domain_name=changes.get("domain_name", pa.domain_name),
        groups=changes["groups"] if "groups" in changes else list(pa.groups.all()),
    )
    if serial != pa.serial_number:
        _refuse_active_twin(pa.organization, serial, exclude_pk=pa.pk)
    pa.serial_number, pa.domain_name = serial, domain
    pa.employee = changes.get("employee", pa.employee)
    pa.ownership = changes.get("ownership", pa.ownership)
    after = _snapshot(pa, group_objs)
    changed = {k for k in after if after[k] != before[k]}
    if not changed:
        return pa
    if {"serial_number", "employee"} & changed:  # a new target: look for its device afresh
        pa.status, pa.device, pa.conflict_at = PreAssignment.Status.WAITING, None, None
        _set_note(pa, "")
    _save(pa)
    pa.groups.set(group_objs)
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.updated", target=pa,
                 before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    if pa.status == PreAssignment.Status.WAITING:
        _apply_if_device(pa, actor=actor)
    return pa


@transaction.atomic
def pre_assignment_cancel(*, pre_assignment: PreAssignment, actor: Actor, note: str | Phrase = "") -> PreAssignment:
    pa = _lock(pre_assignment)
    if not pa.is_active:
        raise IllegalTransition(gettext("This pre-assignment is already %(status)s.") % {
            "status": pa.get_status_display().lower()})
    before = {"status": pa.status}
    pa.status, pa.cancelled_at, pa.settled_by = PreAssignment.Status.CANCELLED, timezone.now(), actor.label[:200]
    if note:
        _set_note(pa, note)
    pa.save(update_fields=["status", "cancelled_at", "settled_by", "note", "note_phrase", "updated_at"])
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.cancelled", target=pa,
                 before=before, after={"status": pa.status} | ({"note": note} if note else {}))
    return pa


@transaction.atomic
def pre_assignment_apply(*, pre_assignment: PreAssignment, actor: Actor) -> str:
    """Apply a waiting pre-assignment now if its device is here (e.g. just added by hand). Returns the outcome."""
    pa = _lock(pre_assignment)
    if pa.status != PreAssignment.Status.WAITING:
        raise IllegalTransition(gettext("This pre-assignment is %(status)s, not waiting.") % {
            "status": pa.get_status_display().lower()})
    outcome = _apply_if_device(pa, actor=actor)
    if outcome == "waiting":
        raise IllegalTransition(gettext("No device with the serial number %(serial_number)s is in the inventory "
                                        "yet.") % {"serial_number": pa.serial_number})
    return outcome


class SettleDecision:
    ASSIGN = "assign"  # give the device to the pre-assigned employee (a reassignment, wipe offered)
    KEEP = "keep"  # keep the current owner; the pre-assignment is cancelled
    choices = [(ASSIGN, gettext_lazy("Assign to the pre-assigned employee")),
               (KEEP, gettext_lazy("Keep the current owner (cancel)"))]


@transaction.atomic
def pre_assignment_settle(
    *, pre_assignment: PreAssignment, actor: Actor, decision: str, wipe: bool = False,
) -> PreAssignment:
    """An admin settles a conflict: reassign the device to the pre-assigned employee, or keep its owner."""
    pa = _lock(pre_assignment)
    if pa.status != PreAssignment.Status.CONFLICT:
        raise IllegalTransition(gettext("Only a pre-assignment in conflict can be settled."))
    if decision == SettleDecision.KEEP:
        device = pa.device
        note = (Phrase("pre_assignment.settled_kept", {"owner": device.assignee.email})
                if device and device.assignee_id else Phrase("pre_assignment.settled_kept_owner"))
        pa = pre_assignment_cancel(pre_assignment=pa, actor=actor, note=note)
        audit_record(organization=pa.organization, actor=actor, event="pre_assignment.settled", target=pa,
                     after={"decision": Phrase("pre_assignment.decision_kept")})
        return pa
    if decision != SettleDecision.ASSIGN:
        raise InvalidInput(gettext("Choose assign or keep."), field="decision")
    device = Device.objects.for_org(pa.organization).filter(serial_number=pa.serial_number).first()
    if device is None or device.is_archived:
        raise IllegalTransition(gettext("No active device with the serial number %(serial_number)s any more.") % {
            "serial_number": pa.serial_number})
    reason = Phrase("pre_assignment.conflict_settled", {"label": actor.label})
    if device.assignee_id is None:
        device = device_services.device_assign(device=device, employee=pa.employee, actor=actor,
                                               source=Source.PRE_ASSIGNMENT, reason=reason)
    elif device.assignee_id != pa.employee_id:
        device = device_services.device_reassign(device=device, employee=pa.employee, actor=actor,
                                                 source=Source.PRE_ASSIGNMENT, wipe=wipe, reason=reason)
    _set_device_fields(pa, device, actor)
    _mark_applied(pa, device, note=Phrase("pre_assignment.settled_assigned"), actor=actor)
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.settled", target=pa,
                 after={"decision": Phrase("pre_assignment.decision_assigned", {"email": pa.employee.email})}
                 | ({"wipe_requested": True} if wipe else {}))
    return pa


def _set_device_fields(pa: PreAssignment, device: Device, actor: Actor) -> None:
    groups = list(pa.groups.all())
    fields = {"ownership": pa.ownership}
    device_services.device_update(device=device, actor=actor, groups=groups or None, **fields)


def _mark_applied(pa: PreAssignment, device: Device, *, note: str | Phrase = "", actor: Actor) -> None:
    pa.status, pa.device, pa.applied_at = PreAssignment.Status.APPLIED, device, timezone.now()
    _set_note(pa, note)
    pa.settled_by = pa.settled_by or actor.label[:200]
    pa.save(update_fields=["status", "device", "applied_at", "note", "note_phrase", "settled_by", "updated_at"])


def _mark_conflict(pa: PreAssignment, device: Device, note: Phrase, actor: Actor) -> bool:
    """Record the conflict; False when it was already recorded as such (no new audit entry)."""
    fields = phrase_fields("note", note, 255)
    if pa.status == PreAssignment.Status.CONFLICT and pa.device_id == device.pk and pa.note == fields["note"]:
        return False
    pa.status, pa.device, pa.conflict_at = PreAssignment.Status.CONFLICT, device, timezone.now()
    _set_note(pa, note)
    pa.save(update_fields=["status", "device", "conflict_at", "note", "note_phrase", "updated_at"])
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.conflict", target=pa,
                 source=Source.PRE_ASSIGNMENT, after={"note": note, "device": str(device)})
    return True


def _hold_for_leaver(pa: PreAssignment, why: str, actor: Actor) -> str:
    """Keep it waiting (an automatic path gives no device to a leaver), the reason in its note; ``held`` when
    newly held, ``unchanged`` when it already said so (no new write, no new audit entry)."""
    note = rules.leaving_hold_reason(name=f"{pa.employee.display_name} ({pa.employee.email})", why=why)[:255]
    if pa.status == PreAssignment.Status.WAITING and pa.note == note:
        return "unchanged"
    pa.status, pa.device = PreAssignment.Status.WAITING, None
    _set_note(pa, note)  # the leaver's reason comes written already (core.hooks.employees_leaving)
    pa.save(update_fields=["status", "device", "note", "note_phrase", "updated_at"])
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.held", target=pa,
                 source=Source.PRE_ASSIGNMENT, after={"note": note, "employee": pa.employee.email})
    return "held"


def _apply_if_device(pa: PreAssignment, *, actor: Actor, source: str = Source.PRE_ASSIGNMENT,
                     leaving: dict[int, str] | None = None) -> str:
    """Apply a waiting (or conflicting) pre-assignment to its device if one exists.

    Returns ``applied``, ``conflict`` (newly found), ``unchanged`` (the same conflict or hold as before),
    ``held`` (``leaving``, given by automatic paths, names its employee: it waits, the reason in its note) or
    ``waiting`` (no device, or an archived one). Called inside the caller's transaction with ``pa`` locked or
    just created.
    """
    device = (
        Device.objects.for_org(pa.organization).filter(serial_number=pa.serial_number)
        .select_related("assignee").first()
    )
    if device is None or device.is_archived:
        return "waiting"
    why = (leaving or {}).get(pa.employee_id)
    if why is not None and device.assignee_id is None and device.usage != Usage.SHARED:  # it would be assigned
        return _hold_for_leaver(pa, why, actor)
    if device.assignee_id == pa.employee_id:
        _set_device_fields(pa, device, actor)
        _mark_applied(pa, device, note=Phrase("pre_assignment.already_assigned"), actor=actor)
    elif device.assignee_id is not None:
        new = _mark_conflict(pa, device, Phrase("pre_assignment.device_assigned", {"email": device.assignee.email}),
                             actor)
        return "conflict" if new else "unchanged"
    elif device.usage == Usage.SHARED:
        new = _mark_conflict(pa, device, Phrase("pre_assignment.device_shared"), actor)
        return "conflict" if new else "unchanged"
    else:
        device = device_services.device_assign(
            device=device, employee=pa.employee, actor=actor, source=source,
            reason=Phrase("pre_assignment.applied", {"id": pa.pk}),
        )
        _set_device_fields(pa, device, actor)
        _mark_applied(pa, device, actor=actor)
    audit_record(organization=pa.organization, actor=actor, event="pre_assignment.applied", target=pa,
                 source=source, after={"device": str(device), "employee": pa.employee.email})
    return "applied"


def pre_assignments_apply(*, organization: Organization, actor: Actor, device_ids=None) -> dict:
    """Apply what has become applicable (the after-sync step, order 10): waiting pre-assignments whose device
    is now in the inventory, and conflicts whose device has since lost its owner.

    Looks at every such pre-assignment, not only at ``device_ids``: a device added by hand since the last run is
    picked up too. Each one is its own transaction; one failure is counted and logged, the others go on.
    """
    devices = Device.objects.for_org(organization).exclude(serial_number="").exclude(availability_status="archived")
    free = devices.filter(assignee__isnull=True).exclude(usage=Usage.SHARED)
    candidates = PreAssignment.objects.for_org(organization).filter(
        Q(status=PreAssignment.Status.WAITING, serial_number__in=devices.values("serial_number"))
        | Q(status=PreAssignment.Status.CONFLICT, serial_number__in=free.values("serial_number"))
    )
    return _apply_each(organization, list(candidates.values_list("pk", flat=True)), actor)


def pre_assignment_apply_for_device(*, device: Device, actor: Actor, **kwargs) -> dict:
    """A device was just added (by hand, by the API): apply its pre-assignment now rather than at the next sync.

    Connected to ``devices.hooks.device_created`` when that hook exists (see ``assignment.wiring``).
    """
    if not device.serial_number:
        return {}
    pending = PreAssignment.objects.for_org(device.organization).filter(
        serial_number=device.serial_number, status__in=PreAssignment.ACTIVE
    )
    return _apply_each(device.organization, list(pending.values_list("pk", flat=True)), actor)


def _apply_each(organization, pks: list[int], actor: Actor) -> dict:
    """The automatic application: a pre-assignment of an employee whose offboarding is under way waits."""
    counts = {"applied": 0, "conflict": 0, "held": 0, "failed": 0}
    leaving = employees_leaving(organization=organization) if pks else {}
    for pk in pks:
        try:
            with transaction.atomic():
                pa = _lock(PreAssignment(pk=pk, organization=organization))
                if not pa.is_active:
                    continue
                outcome = _apply_if_device(pa, actor=actor, leaving=leaving)
        except DomainError as exc:
            logger.warning("Pre-assignment %s not applied: %s", pk, exc.message)
            counts["failed"] += 1
            continue
        if outcome in counts:
            counts[outcome] += 1
    return counts


@transaction.atomic
def pre_assignments_cancel_for_employee(*, employee: Employee, actor: Actor) -> int:
    """Offboarding cancels the leaver's pending pre-assignments (DESIGN §8)."""
    pending = list(
        PreAssignment.objects.for_org(employee.organization).select_for_update()
        .filter(employee=employee, status__in=PreAssignment.ACTIVE)
    )
    for pa in pending:
        pa.employee = employee
        pre_assignment_cancel(pre_assignment=pa, actor=actor, note=Phrase("pre_assignment.employee_offboarded"))
    return len(pending)
