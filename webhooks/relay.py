"""Where webhook events come from: the audit log, read in order, and the failed sync runs.

Every change the cockpit makes is in the audit log, written by the services one entry at a time or in bulk (a CSV
import, the sync's ``COPY``): reading the log catches them all, without any writer having to call webhooks, and an
entry is visible only once its transaction committed, so a change that rolled back never makes an event.

The log is read by id, past a mark, by one pass at a time (beat, every few seconds; the pass holds the row of
:class:`RelayState`). Ids are taken when an entry is written, not when it commits: a long transaction (a sync's) can
commit entries below ids already read. So an id below the highest one read that was not there is remembered as
*pending*, and each pass looks for the pending ids again: an entry that shows up late is read then; one still absent
an hour later (``LATE_COMMIT_WINDOW``: its transaction rolled back) is forgotten.

Failed sync runs are not audit entries: each pass reads the ones that failed in the last day, and the message's
``origin`` (``sync_run:<id>``) keeps any from being sent twice.
"""

import logging
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.models import AuditEvent
from mdm_sync.models import SyncRun
from webhooks import enrollment
from webhooks.models import Message, RelayState
from webhooks.outbox import messages_record, subscribed_endpoints, wanted_types
from webhooks.payloads import AUDIT_SOURCES, DEVICE_TARGET, events_from_audit, group_by_organization, sync_failed_event

logger = logging.getLogger(__name__)

BATCH = 2000  # audit entries read a pass; a pass that reads a full batch asks for another at once
LATE_COMMIT_WINDOW = timedelta(hours=1)
MAX_PENDING_RANGES = 1000
SYNC_FAILURE_WINDOW = timedelta(days=1)
STATE = "audit"


def relay_start() -> RelayState:
    """Start reading the audit log from its end, once (the first endpoint's creation calls it): what happened before
    any endpoint existed is never sent."""
    state = RelayState.objects.filter(name=STATE).first()
    if state is None:
        mark = AuditEvent.objects.aggregate(mark=Max("pk"))["mark"] or 0
        state, _created = RelayState.objects.get_or_create(name=STATE, defaults={"audit_mark": mark})
    return state


def relay_pass(*, now: datetime | None = None) -> dict:
    """Read what was written since the last pass and record its events; returns counts, ``more`` when the audit log
    has more to read."""
    now = now or timezone.now()
    with transaction.atomic():
        state = RelayState.objects.select_for_update().filter(name=STATE).first()
        if state is None:  # no endpoint was ever created
            return {"read": 0, "deliveries": 0, "more": False}
        entries, more = _advance(state, now)
        state.save(update_fields=["audit_mark", "pending", "updated_at"])
        subscribed = subscribed_endpoints()
        deliveries = 0
        by_organization: dict[int, list[tuple]] = {}
        for entry in entries:
            if entry[1] in subscribed:
                by_organization.setdefault(entry[1], []).append(entry)
        for organization_id, organization_entries in by_organization.items():
            deliveries += _audit_events(organization_id, organization_entries, subscribed[organization_id])
        deliveries += _sync_failures(subscribed, now)
    return {"read": len(entries), "deliveries": deliveries, "more": more, "pending_ranges": len(state.pending)}


def _audit_events(organization_id: int, entries: list[tuple], endpoints) -> int:
    """Record the events of these entries ``(id, organization, code, (target type, target id))`` of one
    organization; returns the number of deliveries."""
    wanted = wanted_types(endpoints)
    sources = {code for code, makes in AUDIT_SOURCES.items() if makes & wanted}
    ids = [pk for pk, _org, code, _target in entries if code in sources]
    rows = list(AuditEvent.objects.filter(pk__in=ids).order_by("pk")) if ids else []
    deliveries = len(messages_record(organization_id=organization_id, endpoints=endpoints,
                                     events=events_from_audit(organization_id, rows, wanted)))
    if "device.enrollment_changed" in wanted:
        # A move, an unenrollment or an edit changed (or made) these devices: their enrollment status is checked now.
        device_ids = {int(target_id) for _pk, _org, _code, (target_type, target_id) in entries
                      if target_type == DEVICE_TARGET and target_id.isdigit()}
        if device_ids:
            deliveries += enrollment.enrollment_check(organization_id=organization_id, device_ids=device_ids,
                                                      endpoints=endpoints)
    return deliveries


def _advance(state: RelayState, now: datetime) -> tuple[list[tuple], bool]:
    """The entries that became readable since the last pass (late ones first), and whether more are waiting; moves the
    mark and the pending ranges forward."""
    pending = [(lo, hi, seen) for lo, hi, seen in state.pending]
    columns = ("pk", "organization_id", "event", "target_type", "target_id")
    late = []
    if pending:
        ranges = reduce(or_, (Q(pk__gte=lo, pk__lte=hi) for lo, hi, _seen in pending))
        # At most a batch: ids past it stay pending (not yet looked at) and are read by the next pass.
        late = list(AuditEvent.objects.filter(ranges).order_by("pk").values_list(*columns)[:BATCH])
    fresh = list(AuditEvent.objects.filter(pk__gt=state.audit_mark).order_by("pk").values_list(*columns)[:BATCH])
    found = sorted(row[0] for row in late)
    remaining = []
    for lo, hi, seen in pending:
        remaining += [(a, b, seen) for a, b in _gaps(lo, hi, [pk for pk in found if lo <= pk <= hi])]
    if fresh:
        remaining += [(a, b, now.timestamp()) for a, b in _gaps(state.audit_mark + 1, fresh[-1][0],
                                                                 [row[0] for row in fresh])]
        state.audit_mark = fresh[-1][0]
    # Looked for once more before being forgotten: a pass that comes late (beat or the broker were down) still reads
    # what committed meanwhile.
    expired_before = (now - LATE_COMMIT_WINDOW).timestamp()
    kept = [item for item in remaining if item[2] >= expired_before]
    if len(kept) < len(remaining):
        logger.info("Webhooks: %d pending audit id range(s) expired (rolled back)", len(remaining) - len(kept))
    remaining = kept
    if len(remaining) > MAX_PENDING_RANGES:
        logger.warning("Webhooks: %d pending audit id ranges; the oldest are dropped", len(remaining))
        remaining = sorted(remaining, key=lambda item: item[2])[-MAX_PENDING_RANGES:]
    state.pending = [[lo, hi, seen] for lo, hi, seen in sorted(remaining)]
    entries = [(pk, organization_id, code, (target_type, target_id))
               for pk, organization_id, code, target_type, target_id in late + fresh]
    return entries, len(fresh) == BATCH or len(late) == BATCH


def _gaps(lo: int, hi: int, present: list[int]) -> list[tuple[int, int]]:
    """The ranges of ids from ``lo`` to ``hi`` not in ``present`` (sorted)."""
    gaps, expected = [], lo
    for pk in present:
        if pk > expected:
            gaps.append((expected, pk - 1))
        expected = max(expected, pk + 1)
    if expected <= hi:
        gaps.append((expected, hi))
    return gaps


def _sync_failures(subscribed: dict, now: datetime) -> int:
    """``sync.failed`` for the runs that failed in the last day and were not announced yet."""
    organization_ids = [org for org, endpoints in subscribed.items() if "sync.failed" in wanted_types(endpoints)]
    if not organization_ids:
        return 0
    runs = list(SyncRun.objects.filter(organization_id__in=organization_ids, status=SyncRun.Status.FAILED,
                                       finished_at__gte=now - SYNC_FAILURE_WINDOW).order_by("pk"))
    if not runs:
        return 0
    announced = set(Message.objects.filter(organization_id__in=organization_ids, event_type="sync.failed",
                                           origin__in=[f"sync_run:{run.pk}" for run in runs])
                    .values_list("origin", flat=True))
    deliveries = 0
    for organization_id, org_runs in group_by_organization(runs).items():
        events = [sync_failed_event(run) for run in org_runs if f"sync_run:{run.pk}" not in announced]
        if events:
            deliveries += len(messages_record(organization_id=organization_id, events=events,
                                              endpoints=subscribed[organization_id]))
    return deliveries
