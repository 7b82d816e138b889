"""The audit log's writer: services call :func:`audit_record` explicitly after a change.

An unknown event code is a programming error and raises, so the registry (``core.events``) stays the single list
of what can happen. ``Source``, ``register_events`` and ``describe`` are re-exported for the callers that use
them from here.
"""

from core.actors import Actor, current_request_id
from core.events import EVENTS, Source, describe, register_events
from core.models import AuditEvent

__all__ = ["EVENTS", "Source", "audit_record", "describe", "register_events"]


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
    if event not in EVENTS:
        raise ValueError(f"Unknown audit event code {event!r}: register it (core.events.register_events)")
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
