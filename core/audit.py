"""The audit log's writer: services call :func:`audit_record` explicitly after a change, or
:func:`audit_record_many` for many targets of one kind at once (a bulk move, an import).

An unknown event code is a programming error and raises, so the registry (``core.events``) stays the single list
of what can happen. A ``Phrase`` among ``before`` or ``after``'s values is kept as its text and its code
(``core.events.with_phrase``), so readers see it in their language. ``Source``, ``Phrase``, ``register_events``,
``register_phrases``, ``register_sources`` and ``describe`` are re-exported for the callers that use them from here.
"""

from collections.abc import Iterable

from core import bulk
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
    "EVENTS", "Phrase", "Source", "audit_record", "audit_record_many", "describe", "register_events",
    "register_phrases", "register_sources",
]

_MANY_FIELDS = ["organization", "event", "source", "target_type", "target_id", "target_label", "after", "before",
                "request_id", "actor_type", "actor_user", "actor_token", "actor_label"]


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


def audit_record_many(*, organization, actor: Actor, event: str, target_type: str, entries: Iterable,
                      source: str = "") -> None:
    """:func:`audit_record` for many targets of one kind (``target_type``: the model's ``label_lower``), as plain rows
    in one bulk insert (``core.bulk``: a ``COPY`` on PostgreSQL), no model instance each. ``entries`` are (target id,
    target label, after[, before]): the label as ``str(target)`` gives it, the dicts as they are stored (a ``Phrase``
    through ``core.events.with_phrase`` first)."""
    if event not in EVENTS:
        raise ValueError(f"Unknown audit event code {event!r}: register it (core.events.register_events)")
    fields = actor.audit_fields
    actor_values = (fields["actor_type"], getattr(fields["actor_user"], "pk", None),
                    getattr(fields["actor_token"], "pk", None), fields["actor_label"])
    head, request_id = (organization.pk, event, source, target_type), current_request_id.get()
    bulk.insert_rows(AuditEvent, _MANY_FIELDS, (
        (*head, str(pk), label[:255], after, before[0] if before else {}, request_id, *actor_values)
        for pk, label, after, *before in entries
    ))
