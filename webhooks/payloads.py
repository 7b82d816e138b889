"""Webhook events as small, stable payloads: ``{"type", "timestamp", "data"}`` (the Standard Webhooks envelope).

They come from what the cockpit already records: the audit log's entries (device moves, wipes, new employees,
completed offboardings: :func:`events_from_audit`), failed sync runs (:func:`sync_failed_event`) and enrollment
status changes (:func:`enrollment_changed_event`). ``data`` always names objects the same way: a device as
:func:`device_ref`, an employee as :func:`employee_ref`. Each type's schema is in the OpenAPI document
(``webhooks.schema``); fields are only ever added.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models.functions import Lower

from core.models import AuditEvent, Employee
from devices.models import Device

DEVICE_TARGET = Device._meta.label_lower
EMPLOYEE_TARGET = Employee._meta.label_lower

# The audit codes that make webhook events, and which event types each can make (to skip what nobody wants).
AUDIT_SOURCES: dict[str, set[str]] = {
    "device.assigned": {"device.assigned"},
    "device.reassigned": {"device.assigned", "device.unassigned"},
    "device.unassigned": {"device.unassigned"},
    "device.returned_to_stock": {"device.unassigned"},
    "device.archived": {"device.unassigned"},
    "wipe.confirmed": {"device.wipe_confirmed"},
    "wipe.failed": {"device.wipe_failed"},
    "employee.created": {"employee.created"},
    "offboarding.completed": {"offboarding.completed"},
}
DEVICE_FIELDS = ("pk", "serial_number", "name", "platform", "availability_status", "assignment_status",
                 "enrollment_status", "enrollment_issues", "assignee_id")


@dataclass(frozen=True)
class Event:
    type: str
    occurred_at: datetime
    data: dict = field(default_factory=dict)
    origin: str = ""

    def envelope(self) -> dict:
        return {"type": self.type, "timestamp": timestamp(self.occurred_at), "data": self.data}


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the millisecond: ``2026-11-21T12:00:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def device_ref(device: dict | None, *, fallback_id=None, label: str = "", statuses: dict | None = None) -> dict:
    """A device in every payload: its identity now, and its statuses (as they were right after the change when the
    change recorded them)."""
    device = device or {}
    statuses = statuses or {}
    ref = {
        "id": device.get("pk", fallback_id),
        "serial_number": device.get("serial_number", ""),
        "name": device.get("name", label),
        "platform": device.get("platform", ""),
    }
    for key in ("availability_status", "assignment_status", "enrollment_status"):
        ref[key] = statuses[key] if key in statuses else device.get(key)
    ref["enrollment_issues"] = list(device.get("enrollment_issues") or [])
    return ref


def employee_ref(employee: Employee | None, *, email: str | None = None) -> dict | None:
    """An employee in every payload; one the organization no longer knows by that e-mail keeps the e-mail only."""
    if employee is None:
        return {"id": None, "email": email, "external_id": None, "full_name": ""} if email else None
    return {"id": employee.pk, "email": employee.email, "external_id": employee.external_id,
            "full_name": employee.full_name}


class _Lookups:
    """The devices and employees a batch of audit entries names, read in a few queries."""

    def __init__(self, organization_id: int, rows: list[AuditEvent]):
        device_ids, emails, employee_ids = set(), set(), set()
        for row in rows:
            if row.target_type == DEVICE_TARGET:
                device_ids.add(_int(row.target_id))
            if row.target_type == EMPLOYEE_TARGET:
                employee_ids.add(_int(row.target_id))
            for snapshot in (row.before or {}, row.after or {}):
                for key in ("assignee", "employee"):
                    if isinstance(snapshot.get(key), str):
                        emails.add(snapshot[key].lower())
            for decision in (row.after or {}).get("decisions") or []:
                device_ids.add(_int(decision.get("device")))
                employee_ids.add(_int(decision.get("reassign_to")))
        device_ids.discard(None)
        self.devices = {row["pk"]: row for row in Device.objects.filter(
            organization_id=organization_id, pk__in=device_ids).values(*DEVICE_FIELDS)} if device_ids else {}
        employee_ids |= {device["assignee_id"] for device in self.devices.values()}  # a wipe names the owner
        employee_ids.discard(None)
        employees = Employee.objects.filter(organization_id=organization_id).annotate(lowered=Lower("email"))
        found = list(employees.filter(lowered__in=emails)) if emails else []
        found += list(employees.filter(pk__in=employee_ids)) if employee_ids else []
        self.by_email = {employee.email.lower(): employee for employee in found}
        self.by_id = {employee.pk: employee for employee in found}

    def employee(self, email: str | None) -> dict | None:
        return employee_ref(self.by_email.get(email.lower()), email=email) if email else None

    def device(self, row: AuditEvent, *, statuses: dict | None = None) -> dict:
        pk = _int(row.target_id)
        return device_ref(self.devices.get(pk), fallback_id=pk, label=row.target_label, statuses=statuses)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def events_from_audit(organization_id: int, rows: list[AuditEvent], wanted: set[str]) -> list[Event]:
    """The events of these audit entries (one organization's) that some endpoint wants, in the entries' order."""
    rows = [row for row in rows if AUDIT_SOURCES.get(row.event, set()) & wanted]
    if not rows:
        return []
    lookups = _Lookups(organization_id, rows)
    events = []
    for row in rows:
        for event in _from_row(row, lookups):
            if event.type in wanted:
                events.append(event)
    return events


def _from_row(row: AuditEvent, lookups: _Lookups) -> list[Event]:
    before, after = row.before or {}, row.after or {}
    origin, when = f"audit:{row.pk}", row.created_at
    common = {"source": row.source, "audit_event": row.pk}
    if row.target_type == DEVICE_TARGET and row.event.startswith("device."):
        device = lookups.device(row, statuses=after)
        events = []
        if before.get("assignee") and row.event != "device.assigned":
            reason = row.event.split(".", 1)[1]
            events.append(Event("device.unassigned", when, {
                "device": device, "employee": lookups.employee(before["assignee"]), "reason": reason,
                "wipe_requested": bool(after.get("wipe_requested")), **common}, origin))
        if row.event in ("device.assigned", "device.reassigned") and after.get("assignee"):
            events.append(Event("device.assigned", when, {
                "device": device, "employee": lookups.employee(after["assignee"]),
                "previous_employee": lookups.employee(before.get("assignee")), **common}, origin))
        return events
    if row.target_type == DEVICE_TARGET and row.event in ("wipe.confirmed", "wipe.failed"):
        device = lookups.device(row)
        assignee = lookups.by_id.get(lookups.devices.get(_int(row.target_id), {}).get("assignee_id"))
        data = {"device": device, "employee": employee_ref(assignee), **common}
        if row.event == "wipe.failed":
            return [Event("device.wipe_failed", when, data | {"error": after.get("error", ""),
                                                              "attempts": after.get("attempts")}, origin)]
        return [Event("device.wipe_confirmed", when, data, origin)]
    if row.event == "employee.created":
        employee = lookups.by_id.get(_int(row.target_id))
        ref = employee_ref(employee, email=after.get("email")) or {}
        if employee is not None:
            ref |= {"username": employee.username, "domain_name": employee.domain_name, "status": employee.status,
                    "start_date": employee.start_date.isoformat() if employee.start_date else None}
        return [Event("employee.created", when, {"employee": ref, **common}, origin)]
    if row.event == "offboarding.completed":
        return [Event("offboarding.completed", when, {
            "offboarding": {"id": _int(row.target_id), "effective_date": after.get("effective_date")},
            "employee": lookups.employee(after.get("employee")),
            "devices": [_decision(decision, lookups) for decision in after.get("decisions") or []],
            **common}, origin)]
    return []


def _decision(decision: dict, lookups: _Lookups) -> dict:
    device_id = _int(decision.get("device"))
    device = lookups.devices.get(device_id)
    return {
        "device": {"id": device_id, "serial_number": (device or {}).get("serial_number", ""),
                   "name": (device or {}).get("name", "")},
        "action": decision.get("action"),
        "wipe": bool(decision.get("wipe")),
        "reassign_to": employee_ref(lookups.by_id.get(_int(decision.get("reassign_to")))),
    }


def device_lookups_by_assignee(devices: list[dict], organization_id: int) -> dict[int, Employee]:
    """The assignees of these device rows, by id (one query)."""
    ids = {device["assignee_id"] for device in devices if device.get("assignee_id")}
    if not ids:
        return {}
    return {employee.pk: employee for employee in Employee.objects.filter(organization_id=organization_id,
                                                                           pk__in=ids)}


def enrollment_changed_event(device: dict, *, previous: str, assignee: Employee | None, when: datetime) -> Event:
    return Event("device.enrollment_changed", when, {
        "device": device_ref(device), "previous_enrollment_status": previous, "employee": employee_ref(assignee),
    })


def sync_failed_event(run) -> Event:
    return Event("sync.failed", run.finished_at or run.started_at, {"sync_run": {
        "id": run.pk, "trigger": run.trigger, "started_at": timestamp(run.started_at),
        "finished_at": timestamp(run.finished_at) if run.finished_at else None, "error": run.error[:1000],
    }}, f"sync_run:{run.pk}")


def ping_event(endpoint, when: datetime) -> Event:
    return Event("ping", when, {"endpoint": {"id": endpoint.pk, "url": endpoint.url},
                                "message": "This is a test event from Fleet Cockpit."})


def group_by_organization(rows) -> dict[int, list]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.organization_id].append(row)
    return grouped
