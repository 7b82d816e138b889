"""The audit log: one registry of event codes, each with the sentence the cockpit shows.

Services call :func:`audit_record` explicitly after a change; an unknown code is a programming
error and raises, so the registry stays the single list of what can happen.
"""

from django.db import models

from core.actors import Actor
from core.middleware import current_request_id


class Source(models.TextChoices):
    """Why a change happened (DESIGN §4)."""

    MANUAL = "manual", "Manual"
    ENROLLMENT = "enrollment", "Enrollment"
    PRE_ASSIGNMENT = "pre_assignment", "Pre-assignment"
    CSV_IMPORT = "csv_import", "CSV import"
    SUGGESTION = "suggestion", "Suggestion"
    OFFBOARDING = "offboarding", "Offboarding"
    API = "api", "API"
    SYNC = "sync", "Sync"


EVENTS: dict[str, str] = {
    "organization.created": "{actor} created the organization {target}",
    "organization.settings_updated": "{actor} changed the settings of {target}",
    "membership.created": "{actor} gave {target} the role {after[role]}",
    "api_token.created": "{actor} created the API token {target} ({after[scope]})",
    "api_token.revoked": "{actor} revoked the API token {target}",
    "group.created": "{actor} created the group {target}",
    "group.updated": "{actor} edited the group {target}",
    "group.deleted": "{actor} deleted the group {target}",
    "employee.created": "{actor} added the employee {target}",
    "employee.updated": "{actor} edited the employee {target}",
    "device.created": "{actor} added the device {target}",
    "device.updated": "{actor} edited the device {target}",
    "device.assigned": "{actor} assigned {target} to {after[assignee]}",
    "device.unassigned": "{actor} unassigned {target} from {before[assignee]}",
    "device.reassigned": "{actor} reassigned {target} from {before[assignee]} to {after[assignee]}",
    "device.returned_to_stock": "{actor} returned {target} to stock",
    "device.archived": "{actor} archived {target}",
    "device.restored": "{actor} restored {target} from the archive",
    "fleet_connection.saved": "{actor} connected the organization to Fleet at {after[url]}",
    "fleet_connection.tested": "{actor} tested the Fleet connection: {after[result]}",
    "sync_run.succeeded": "{actor} synced with Fleet: {after[created]} new, {after[updated]} updated, "
    "{after[unchanged]} unchanged, {after[not_seen]} not seen",
}


def register_events(events: dict[str, str]) -> None:
    """Feature apps add their event codes from their ``AppConfig.ready``; a code is registered once."""
    clashes = {code for code, sentence in events.items() if EVENTS.get(code, sentence) != sentence}
    if clashes:
        raise ValueError(f"Audit event codes registered twice with different sentences: {sorted(clashes)}")
    EVENTS.update(events)


class _Blank(dict):
    def __missing__(self, key):
        return "—"


def describe(event) -> str:
    template = EVENTS.get(event.event, "{actor}: " + event.event + " on {target}")
    sentence = template.format_map(
        _Blank(
            actor=event.actor_label,
            target=event.target_label or f"#{event.target_id}",
            before=_Blank(event.before or {}),
            after=_Blank(event.after or {}),
        )
    )
    if (event.after or {}).get("wipe_requested"):
        sentence += " (wipe requested)"
    if (event.after or {}).get("fleet_removal_requested"):
        sentence += " (removal from Fleet requested)"
    return sentence


def audit_record(
    *,
    organization,
    actor: Actor,
    event: str,
    target,
    source: str = "",
    before: dict | None = None,
    after: dict | None = None,
):
    from core.models import AuditEvent

    if event not in EVENTS:
        raise ValueError(f"Unknown audit event code {event!r}: add it to core.audit.EVENTS")
    return AuditEvent.objects.create(
        organization=organization,
        event=event,
        source=source,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:255],
        before=before or {},
        after=after or {},
        request_id=current_request_id.get(),
        **actor.audit_fields,
    )
