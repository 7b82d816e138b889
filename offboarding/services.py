"""Offboarding state changes (DESIGN §8).

A case is drafted with one decision per device the leaver holds (the organization's default fills
what nobody chose), then completed at once or scheduled for its effective date. Completion is one
transaction: the employee becomes ``offboarded``, every decision goes through ``devices.services``
(history and audit with source ``offboarding``), and ``core.hooks.employee_offboarded`` lets the
assignment app cancel the leaver's pre-assignments and suggestions. A decision's wipe is the
device move's own (``devices.commands``, the one wipe pathway): it leaves for Fleet after commit, a
refused wipe fails alone and undoes nothing, and a later sync confirms the erase.

Hold until wipe (organization setting ``offboarding_hold_until_wipe``, applied by
``devices.services.device_reassign`` to every reassignment): a device reassigned *with* a wipe comes
back to stock first, its decision waits ``awaiting_wipe``, and the sync that confirms the wipe hands
it to the new owner. If by then the device has another owner, is archived, or the new owner has left,
the hand-over is not forced: the decision ends ``hold_failed`` with the reason, for an admin to
settle (:func:`decision_settle`, a ``devices.hooks.command_settled`` step).
"""

import hashlib
import json
import logging
from datetime import date, timedelta

from django.db import IntegrityError, OperationalError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput
from core.events import phrase_fields
from core.hooks import employee_offboarded
from core.models import Employee, Organization
from core.selectors import employee_by_reference
from devices import handover
from devices import services as device_services
from devices.models import Device, DeviceCommand
from offboarding.models import (
    WIPE_BY_DEFAULT,
    DeviceAction,
    Offboarding,
    OffboardingDevice,
)

logger = logging.getLogger(__name__)

WIPE_BACKOFF_BASE = timedelta(minutes=2)
WIPE_BACKOFF_MAX = timedelta(hours=6)
WIPE_SEND_LEASE = timedelta(minutes=5)  # a claimed wipe is not claimed again while its call may be running
AUTO_KEY_PREFIX = "auto:"


# --- decisions -------------------------------------------------------------------------------


def default_decision(organization: Organization) -> tuple[str, bool]:
    action = organization.offboarding_default_action
    return action, WIPE_BY_DEFAULT[DeviceAction(action)]


def held_devices(employee: Employee):
    """The devices the employee holds now (archived devices have no owner)."""
    return Device.objects.for_org(employee.organization).filter(assignee=employee).order_by("pk")


def _resolve_device(organization, value, *, field: str) -> Device:
    if isinstance(value, Device):
        device = value if value.organization_id == organization.pk else None
    else:
        text = str(value or "").strip()
        device = None
        if text.isascii() and text.isdigit():
            device = Device.objects.for_org(organization).filter(pk=int(text)).first()
        if device is None and text:
            device = Device.objects.for_org(organization).filter(serial_number=text.upper()).first()
    if device is None:
        raise InvalidInput(gettext("No device “%(device)s” in this organization.") % {"device": value}, field=field)
    return device


def normalize_decisions(*, organization, employee: Employee, decisions) -> list[dict]:
    """Check each wanted decision and resolve its references; the first bad one raises, naming it.

    ``decisions``: [{device (Device, id or serial), action, reassign_to (Employee, id or e-mail), wipe}];
    ``wipe`` None or absent takes the action's default.
    """
    resolved, seen = [], set()
    for position, item in enumerate(decisions or []):
        label = f"devices[{position}]"
        device = _resolve_device(organization, item.get("device"), field="devices")
        if device.pk in seen:
            raise InvalidInput(gettext("%(label)s: %(device)s is named twice.") % {
                "label": label, "device": device}, field="devices")
        seen.add(device.pk)
        if device.assignee_id != employee.pk:
            raise InvalidInput(gettext("%(label)s: %(device)s is not held by %(display_name)s.") % {
                "label": label, "device": device, "display_name": employee.display_name}, field="devices")
        action = item.get("action")
        if action not in DeviceAction.values:
            raise InvalidInput(gettext("%(label)s: “%(action)s” is not a decision; use one of %(choices)s.") % {
                "label": label, "action": action, "choices": ', '.join(DeviceAction.values)},
                               field="devices")
        target = item.get("reassign_to")
        if action == DeviceAction.REASSIGN:
            if target in (None, ""):
                raise InvalidInput(gettext("%(label)s: say who receives %(device)s (reassign_to).") % {
                    "label": label, "device": device}, field="devices")
            target = employee_by_reference(organization=organization, reference=target, field="devices")
            if target.pk == employee.pk:
                raise InvalidInput(gettext("%(label)s: %(device)s cannot be reassigned to the leaver.") % {
                    "label": label, "device": device}, field="devices")
            if not target.is_active:
                raise InvalidInput(gettext("%(label)s: %(display_name)s has been offboarded and cannot receive "
                                           "%(device)s.") % {
                    "label": label, "display_name": target.display_name, "device": device},
                                   field="devices")
        elif target not in (None, ""):
            raise InvalidInput(gettext("%(label)s: reassign_to is only for the reassign decision.") % {
                "label": label}, field="devices")
        else:
            target = None
        wipe = item.get("wipe")
        resolved.append({"device": device, "action": action, "reassign_to": target,
                         "wipe": WIPE_BY_DEFAULT[DeviceAction(action)] if wipe is None else bool(wipe)})
    return resolved


def _decision_rows(case: Offboarding) -> list[dict]:
    return [
        {"device": d.device_id, "action": d.action, "reassign_to": d.reassign_to_id, "wipe": d.wipe,
         "default": d.by_default}
        for d in case.decisions.all()
    ]


def _fill_defaults(case: Offboarding, employee: Employee) -> list[OffboardingDevice]:
    """A default decision for each held device the case does not cover yet."""
    action, wipe = default_decision(case.organization)
    covered = set(case.decisions.values_list("device_id", flat=True))
    added = [
        OffboardingDevice(organization=case.organization, offboarding=case, device=device, action=action,
                          wipe=wipe, by_default=True)
        for device in held_devices(employee) if device.pk not in covered
    ]
    OffboardingDevice.objects.bulk_create(added)
    return added


# --- the case --------------------------------------------------------------------------------


def _lock_case(offboarding: Offboarding) -> Offboarding:
    return (
        Offboarding.objects.select_for_update(of=("self",))
        .select_related("organization", "employee")
        .get(pk=offboarding.pk, organization_id=offboarding.organization_id)
    )


def _require_open(case: Offboarding, verb) -> None:
    if not case.is_open:
        raise IllegalTransition(verb % {"status": case.get_status_display().lower()})


def _snapshot(case: Offboarding) -> dict:
    return {"employee": case.employee.email, "status": case.status,
            "effective_date": case.effective_date.isoformat() if case.effective_date else None}


def _check_date(effective_date: date | None, today: date) -> None:
    if effective_date is not None and effective_date < today:
        raise InvalidInput(gettext("The effective date %(date)s is in the past; leave it empty to offboard now.") % {
            "date": effective_date.isoformat()}, field="effective_date")


def request_key(*, employee: Employee, effective_date, decisions) -> str:
    """The idempotency key of an HR request without its own key: the same request gives the same key."""
    canonical = json.dumps(
        {"employee": employee.pk, "effective_date": str(effective_date) if effective_date else None,
         "devices": sorted(json.dumps(d, sort_keys=True, default=str) for d in decisions or [])},
        sort_keys=True,
    )
    return AUTO_KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def offboarding_start(
    *, organization: Organization, employee: Employee, actor: Actor, origin: str = Offboarding.Origin.COCKPIT,
    effective_date: date | None = None, decisions=None, idempotency_key: str = "", today: date | None = None,
) -> Offboarding:
    """Draft a case for an active employee: the decisions given, the organization's default for the rest."""
    today = today or timezone.localdate()
    if employee.organization_id != organization.pk:
        raise InvalidInput(gettext("Unknown employee."), field="employee")
    with transaction.atomic():
        employee = Employee.objects.select_for_update().get(pk=employee.pk)
        if not employee.is_active:
            raise IllegalTransition(gettext("%(display_name)s has already been offboarded.") % {
                "display_name": employee.display_name})
        open_case = Offboarding.objects.for_org(organization).filter(
            employee=employee, status__in=Offboarding.OPEN).first()
        if open_case is not None:
            raise IllegalTransition(
                gettext("%(display_name)s already has an open offboarding (#%(number)s, %(status)s); change or "
                        "cancel it instead.") % {"display_name": employee.display_name, "number": open_case.pk,
                                                 "status": open_case.get_status_display().lower()}
            )
        _check_date(effective_date, today)
        resolved = normalize_decisions(organization=organization, employee=employee, decisions=decisions)
        case = Offboarding(
            organization=organization, employee=employee, origin=origin, effective_date=effective_date,
            started_by_label=actor.label[:200], idempotency_key=idempotency_key,
            started_by_user=actor.user if actor.kind == "user" else None,
            started_by_token=actor.token if actor.kind == "token" else None,
        )
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError as exc:  # a concurrent twin of this request, or a second open case
            raise ConcurrentChange(gettext("The same offboarding is being started right now; try again.")) from exc
        OffboardingDevice.objects.bulk_create([
            OffboardingDevice(organization=organization, offboarding=case, **row) for row in resolved
        ])
        _fill_defaults(case, employee)
        audit_record(organization=organization, actor=actor, event="offboarding.started", target=case,
                     source=Source.OFFBOARDING, after=_snapshot(case) | {"origin": origin,
                                                                         "decisions": _decision_rows(case)})
    return case


def offboarding_set_decisions(*, offboarding: Offboarding, actor: Actor, decisions) -> Offboarding:
    """Change the decisions of an open case for the devices named; the others keep theirs."""
    with transaction.atomic():
        case = _lock_case(offboarding)
        _require_open(case, gettext("This offboarding is %(status)s; it cannot be changed."))
        before = _decision_rows(case)
        resolved = normalize_decisions(organization=case.organization, employee=case.employee, decisions=decisions)
        for row in resolved:
            OffboardingDevice.objects.update_or_create(
                offboarding=case, device=row["device"],
                defaults={"organization": case.organization, "action": row["action"],
                          "reassign_to": row["reassign_to"], "wipe": row["wipe"], "by_default": False},
            )
        _fill_defaults(case, case.employee)
        after = _decision_rows(case)
        if after != before:
            audit_record(organization=case.organization, actor=actor, event="offboarding.decisions_changed",
                         target=case, source=Source.OFFBOARDING, before={"decisions": before},
                         after={"employee": case.employee.email, "decisions": after})
    return case


def offboarding_schedule(*, offboarding: Offboarding, actor: Actor, effective_date: date,
                         today: date | None = None) -> Offboarding:
    """Complete the case by the daily job on ``effective_date`` (a future day)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        case = _lock_case(offboarding)
        _require_open(case, gettext("This offboarding is %(status)s; it cannot be scheduled."))
        if effective_date is None or effective_date <= today:
            raise InvalidInput(gettext("Schedule for a future day, or complete the offboarding now."),
                               field="effective_date")
        before = _snapshot(case)
        case.status, case.effective_date = Offboarding.Status.SCHEDULED, effective_date
        case.scheduled_at, case.last_error = timezone.now(), ""
        case.save(update_fields=["status", "effective_date", "scheduled_at", "last_error", "updated_at"])
        audit_record(organization=case.organization, actor=actor, event="offboarding.scheduled", target=case,
                     source=Source.OFFBOARDING, before=before, after=_snapshot(case))
    return case


def _set_phrase(obj, name: str, value: str | Phrase, max_length: int) -> None:
    """A text field and its code beside it (``<name>_phrase``): a service's sentence is read in the reader's
    language, a person's text as typed."""
    for field_name, field_value in phrase_fields(name, value, max_length).items():
        setattr(obj, field_name, field_value)


def offboarding_cancel(*, offboarding: Offboarding, actor: Actor, reason: str | Phrase = "") -> Offboarding:
    """Drop an open case; the employee and their devices stay as they are. ``reason``: a person's, or a service's
    ``Phrase`` (the audit entry keeps its code, for the timeline to show it in the reader's language)."""
    with transaction.atomic():
        case = _lock_case(offboarding)
        _require_open(case, gettext("This offboarding is %(status)s; it cannot be cancelled."))
        before = _snapshot(case)
        case.status, case.cancelled_at = Offboarding.Status.CANCELLED, timezone.now()
        _set_phrase(case, "cancel_reason", reason, 500)
        if case.idempotency_key.startswith(AUTO_KEY_PREFIX):
            case.idempotency_key = ""  # the same HR request sent again after a cancel starts a new case
        case.save(update_fields=["status", "cancelled_at", "cancel_reason", "cancel_reason_phrase", "idempotency_key",
                                 "updated_at"])
        audit_record(organization=case.organization, actor=actor, event="offboarding.cancelled", target=case,
                     source=Source.OFFBOARDING, before=before,
                     after=_snapshot(case) | ({"reason": reason} if reason else {}))
    return case


def offboarding_complete(*, offboarding: Offboarding, actor: Actor) -> Offboarding:
    """Offboard the employee and apply every decision, in one transaction; the wipes leave after commit."""
    with transaction.atomic():
        case = _lock_case(offboarding)
        _require_open(case, gettext("This offboarding is %(status)s; it cannot be completed."))
        organization = case.organization
        employee = Employee.objects.select_for_update().get(pk=case.employee_id)
        if not employee.is_active:
            raise IllegalTransition(gettext("%(display_name)s has already been offboarded.") % {
                "display_name": employee.display_name})
        # Lock what the employee holds now: a device move racing this completion is refused (or refuses
        # it), and each decision applies to the device as locked here (its version is checked again).
        try:
            held = {device.pk: device for device in held_devices(employee).select_for_update(nowait=True, of=("self",))}
        except OperationalError as exc:  # PostgreSQL: one of the devices is being changed right now
            raise ConcurrentChange(gettext("A device of %(display_name)s is being changed right now; "
                                           "try again in a moment.") % {"display_name": employee.display_name}) from exc
        _fill_defaults(case, employee)  # devices received since the case was drafted
        decisions = list(case.decisions.select_related("device", "reassign_to").order_by("pk"))
        for decision in decisions:
            target = decision.reassign_to
            if decision.device_id in held and target is not None and not target.is_active:
                raise InvalidInput(gettext("%(display_name)s has been offboarded and cannot receive %(device)s; "
                                           "change that decision.") % {
                    "display_name": target.display_name, "device": decision.device}, field="devices")
        now = timezone.now()
        employee.status, employee.offboarded_at = Employee.Status.OFFBOARDED, now
        employee.save(update_fields=["status", "offboarded_at", "updated_at"])
        reason = Phrase("offboarding.completed", {"name": employee.display_name})
        wipes = 0
        for decision in decisions:
            if decision.device_id not in held:
                decision.status = OffboardingDevice.Status.SKIPPED
                _set_phrase(decision, "note", Phrase("offboarding.no_longer_held"), 500)
                decision.save(update_fields=["status", "note", "note_phrase", "updated_at"])
                continue
            decision.device = held[decision.device_id]
            _apply_decision(decision, actor=actor, reason=reason)
            wipes += decision.wipe
        case.status, case.completed_at = Offboarding.Status.COMPLETED, now
        case.completed_by_label, case.last_error = actor.label[:200], ""
        case.save(update_fields=["status", "completed_at", "completed_by_label", "last_error", "updated_at"])
        audit_record(organization=organization, actor=actor, event="employee.offboarded", target=employee,
                     source=Source.OFFBOARDING, before={"status": Employee.Status.ACTIVE},
                     after={"status": employee.status, "offboarding": case.pk})
        # The apps built on the core follow up inside this transaction (pre-assignments, suggestions).
        follow_ups = employee_offboarded.run(employee=employee, actor=actor)
        audit_record(organization=organization, actor=actor, event="offboarding.completed", target=case,
                     source=Source.OFFBOARDING, after=_snapshot(case) | {"decisions": _decision_rows(case),
                                                                         "wipes": wipes,
                                                                         "follow_ups": follow_ups})
    return case


def _apply_decision(decision: OffboardingDevice, *, actor: Actor, reason: Phrase) -> None:
    """The decision through the device moves; its wipe (and a hold until the wipe is confirmed) is theirs."""
    common = {"device": decision.device, "actor": actor, "source": Source.OFFBOARDING, "wipe": decision.wipe,
              "expected_version": decision.device.version, "reason": reason}
    if decision.action == DeviceAction.RETURN_TO_STOCK:
        device = device_services.device_return_to_stock(**common)
    elif decision.action == DeviceAction.REMOVE_FROM_FLEET:
        device = device_services.device_archive(**common)
    else:
        device = device_services.device_reassign(**common, employee=decision.reassign_to)
    decision.device = device
    decision.wipe_command = (
        DeviceCommand.objects.filter(device=device, kind=DeviceCommand.Kind.WIPE, status__in=DeviceCommand.PENDING)
        .order_by("-pk").first() if decision.wipe else None
    )
    held = decision.wipe_command is not None and decision.wipe_command.awaits_hand_over
    decision.status = OffboardingDevice.Status.AWAITING_WIPE if held else OffboardingDevice.Status.APPLIED
    decision.applied_at = timezone.now()
    decision.save(update_fields=["status", "applied_at", "wipe_command", "updated_at"])


def decision_settle(*, command: DeviceCommand, actor: Actor) -> dict:
    """``devices.hooks.command_settled`` step: a decision held until its wipe ends with the hand-over's outcome."""
    decision = OffboardingDevice.objects.filter(
        wipe_command=command, status=OffboardingDevice.Status.AWAITING_WIPE).first()
    if decision is None:
        return {}
    if command.handed_over_at is not None:
        decision.status, decision.note, decision.note_phrase = OffboardingDevice.Status.APPLIED, "", {}
    elif command.hand_over_note:  # the command's note, its code with it
        decision.status = OffboardingDevice.Status.HOLD_FAILED
        decision.note, decision.note_phrase = command.hand_over_note[:500], command.hand_over_note_phrase
    else:
        return {}  # e.g. the wipe failed: the device stays held while an admin retries it or hands it over
    decision.applied_at = timezone.now()
    decision.save(update_fields=["status", "note", "note_phrase", "applied_at", "updated_at"])
    return {"decision": decision.pk, "status": decision.status}


def offboarding_hand_over(*, decision: OffboardingDevice, actor: Actor) -> bool:
    """Give a held device to the employee its decision names now, without waiting for the wipe's confirmation.

    Returns True when handed over; otherwise the decision ends ``hold_failed`` with the reason.
    """
    if decision.status != OffboardingDevice.Status.AWAITING_WIPE or decision.wipe_command_id is None:
        raise IllegalTransition(gettext("This device is not waiting to be handed over."))
    return handover.command_hand_over(command=decision.wipe_command, actor=actor)


def offboarding_request(
    *, organization: Organization, employee: Employee, actor: Actor, effective_date: date | None = None,
    decisions=None, idempotency_key: str = "", today: date | None = None,
) -> tuple[Offboarding, bool]:
    """The HR API's offboard: start, then complete now or schedule. The same request again → the same case.

    Without ``effective_date`` the employee's end date is used when it is still ahead, else now.
    Returns ``(case, created)``.
    """
    today = today or timezone.localdate()
    key = idempotency_key.strip()[:120] or request_key(employee=employee, effective_date=effective_date,
                                                        decisions=decisions)
    existing = _replay(organization, key, employee)
    if existing is not None:
        return existing, False
    if effective_date is None and employee.end_date and employee.end_date > today:
        effective_date = employee.end_date
    try:
        with transaction.atomic():
            case = offboarding_start(organization=organization, employee=employee, actor=actor,
                                     origin=Offboarding.Origin.API, effective_date=effective_date,
                                     decisions=decisions, idempotency_key=key, today=today)
            if effective_date is not None and effective_date > today:
                case = offboarding_schedule(offboarding=case, actor=actor, effective_date=effective_date, today=today)
            else:
                case = offboarding_complete(offboarding=case, actor=actor)
    except (IllegalTransition, ConcurrentChange):
        # The same request sent twice at once: the twin that waited on the employee's row lock finds the
        # case the other one committed, and answers it.
        existing = _replay(organization, key, employee)
        if existing is None:
            raise
        return existing, False
    return case, True


def _replay(organization, key: str, employee: Employee) -> Offboarding | None:
    existing = Offboarding.objects.for_org(organization).filter(idempotency_key=key).first()
    if existing is not None and existing.employee_id != employee.pk:
        raise InvalidInput(gettext("This Idempotency-Key was already used for another employee."),
                           field="idempotency_key")
    return existing


END_DATE_HORIZON = timedelta(days=14)


def _end_date_candidates(today: date):
    """Active employees whose end date falls within the horizon and who have no case for it yet.

    A completed or open case covers the employee; a case cancelled for that same day means an admin
    decided against it, so none is drafted again. End dates already past are left alone: the job
    never offboards (and wipes) people retroactively on its own.
    """
    return Employee.objects.filter(
        status=Employee.Status.ACTIVE, end_date__gte=today, end_date__lte=today + END_DATE_HORIZON,
    ).exclude(
        offboardings__status__in=[Offboarding.Status.DRAFT, Offboarding.Status.SCHEDULED,
                                  Offboarding.Status.COMPLETED],
    ).exclude(
        offboardings__status=Offboarding.Status.CANCELLED, offboardings__effective_date=models.F("end_date"),
    )


def offboarding_schedule_end_dates(*, organization: Organization, today: date | None = None) -> int:
    """Schedule a case (origin ``schedule``, the organization's default decisions) for each employee whose
    end date is near, so admins see it coming and can change or cancel it before the daily job runs it."""
    today = today or timezone.localdate()
    actor = Actor.system("scheduled offboarding")
    created = 0
    for employee in _end_date_candidates(today).filter(organization=organization).order_by("pk"):
        try:
            with transaction.atomic():
                case = offboarding_start(organization=organization, employee=employee, actor=actor,
                                         origin=Offboarding.Origin.SCHEDULE, effective_date=employee.end_date,
                                         today=today)
                Offboarding.objects.filter(pk=case.pk).update(status=Offboarding.Status.SCHEDULED,
                                                              scheduled_at=timezone.now())
                case.status = Offboarding.Status.SCHEDULED
                audit_record(organization=organization, actor=actor, event="offboarding.scheduled", target=case,
                             source=Source.OFFBOARDING, after=_snapshot(case))
            created += 1
        except DomainError as exc:  # e.g. an open case appeared meanwhile
            logger.info("No end-date offboarding for employee %s: %s", employee.pk, exc.message)
    return created


def offboarding_run_due(*, organization: Organization, today: date | None = None) -> dict:
    """The daily job: schedule cases for near end dates, then complete every scheduled case whose day has
    come; a case it cannot complete keeps its error (shown in the cockpit) and is tried again the next day."""
    today = today or timezone.localdate()
    actor = Actor.system("scheduled offboarding")
    scheduled = offboarding_schedule_end_dates(organization=organization, today=today)
    due = Offboarding.objects.for_org(organization).filter(
        status=Offboarding.Status.SCHEDULED, effective_date__lte=today
    ).order_by("effective_date", "pk")
    done, failed = 0, 0
    for case in due:
        try:
            offboarding_complete(offboarding=case, actor=actor)
            done += 1
        except DomainError as exc:
            # Completed or cancelled meanwhile (a redelivered task, an admin): nothing to record.
            still_due = Offboarding.objects.filter(pk=case.pk, status=Offboarding.Status.SCHEDULED)
            if still_due.update(last_error=exc.message[:500], updated_at=timezone.now()):
                failed += 1
    return {"scheduled": scheduled, "completed": done, "failed": failed}


def organizations_with_due_offboardings(*, today: date | None = None) -> list[int]:
    today = today or timezone.localdate()
    due = set(Offboarding.objects.filter(
        status=Offboarding.Status.SCHEDULED, effective_date__lte=today).values_list("organization_id", flat=True))
    due |= set(_end_date_candidates(today).values_list("organization_id", flat=True))
    return sorted(due)
