"""The audit log's writer: services call :func:`audit_record` explicitly after a change.

An unknown event code is a programming error and raises, so the registry (``core.events``) stays the single list
of what can happen. A ``Phrase`` among ``before`` or ``after``'s values is kept as its text and its code
(``core.events.with_phrase``), so readers see it in their language. ``Source``, ``Phrase``, ``register_events``,
``register_phrases``, ``register_sources`` and ``describe`` are re-exported for the callers that use them from here.
"""

from core.actors import Actor, current_request_id
from core.events import (
    EVENTS,
    Phrase,
    Source,
    describe,
    register_events,
    register_phrases,
    register_sources,
    with_phrase,
)
from core.models import AuditEvent

__all__ = [
    "EVENTS", "Phrase", "Source", "audit_record", "describe", "register_events", "register_phrases", "register_sources",
]


def _stored(data: dict | None) -> dict:
    stored = {}
    for key, value in (data or {}).items():
        stored |= with_phrase(key, value)
    return stored


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
        before=_stored(before),
        after=_stored(after),
        request_id=current_request_id.get(),
        **actor.audit_fields,
    )
