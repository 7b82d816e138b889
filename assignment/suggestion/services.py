"""State changes of assignment suggestion (DESIGN §7): compute in bulk, accept, reject, withdraw.

The organization's ``assignment_suggestion_mode`` decides what a run does: ``off`` nothing,
``suggest`` keeps one pending suggestion per device for an admin, ``auto`` also assigns (source
``suggestion``) every device not yet assigned whose suggestion reaches
``suggestion_confidence_threshold``. Accepting assigns through ``devices.services.device_assign``;
it never touches an assigned device (that move refuses it).

``auto`` follows the rules of every automatic path (``devices.rules``): phones and tablets stay pending
suggestions for a person to accept, and an employee whose offboarding is under way is never proposed (their
pending suggestion is withdrawn at the next run, and never applied automatically meanwhile).

A run is recorded (``SuggestionRun``) and holds the organization's ``assignment-suggestion`` lease
(``core.leases``, STYLE 17): short, renewed by a heartbeat while it scores, released at its end. A second run
while the first is alive is recorded ``skipped``; a run whose worker died stops renewing, and once its lease
lapsed (``JOB_LEASE_SECONDS``) the next run marks it ``abandoned`` and scores in its place. A run is idempotent:
its reconciliation is one transaction (fenced by a renewal of the lease, so a run that lost its lease writes
nothing), and ``auto`` assigns each device in its own transaction, so a redelivered or next run finds what the
last one did and only does the rest.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from assignment.suggestion.models import Suggestion, SuggestionRun
from assignment.suggestion.scoring import Score
from assignment.suggestion.selectors import suggestion_facts, suggestion_queryset, suggestion_scores
from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput
from core.leases import Lease, LeaseLost, lease_acquire
from core.models import Organization
from core.selectors import employees_leaving
from devices import rules
from devices.models import Device, Usage
from devices.services import device_assign

logger = logging.getLogger(__name__)

LEASE_JOB = "assignment-suggestion"  # one per organization (core.leases)
RUNS_KEPT = timedelta(days=90)  # older run records are deleted when a run starts
BATCH = 1000
MAX_BULK = 500

NOTE_DEVICE_GONE = gettext_lazy("The device was assigned otherwise, archived or made shared")
NOTE_NO_EVIDENCE = gettext_lazy("The facts no longer point to anyone")
NOTE_REPLACED = gettext_lazy("Replaced by a suggestion on newer evidence")
NOTE_OFFBOARDED = gettext_lazy("The employee was offboarded")
NOTE_LEAVING = gettext_lazy("The employee's offboarding is under way")


def _kinds_text(score: Score) -> str:
    return "," + ",".join(score.kinds) + "," if score.kinds else ""


def _new_suggestion(organization, score: Score) -> Suggestion:
    return Suggestion(
        organization=organization, device_id=score.device_id, employee_id=score.employee_id,
        confidence=score.confidence, evidence=score.evidence, evidence_kinds=_kinds_text(score),
        fingerprint=score.fingerprint,
    )


def _chunks(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _supersede(ids_by_note: dict[str, list[int]], *, actor: Actor, now) -> int:
    count = 0
    for note, ids in ids_by_note.items():
        for chunk in _chunks(ids):
            count += Suggestion.objects.filter(pk__in=chunk, status=Suggestion.Status.PENDING).update(
                status=Suggestion.Status.SUPERSEDED, decided_at=now, decided_by=actor.label[:200], note=note,
                updated_at=now,
            )
    return count


def suggestions_refresh(*, organization: Organization, actor: Actor,
                        trigger: str = SuggestionRun.Trigger.SCHEDULE) -> dict:
    """Score every device that may get a suggestion, reconcile the pending ones, and in ``auto`` mode assign.

    Reads are a fixed number of queries (``suggestion_facts``); writes are batched. Two runs of one
    organization never overlap: while one holds the lease, the second is recorded ``skipped`` and reports it.
    Returns the counts, with ``run`` (the record's id); ``{"mode": "off"}`` alone when suggestion is off.
    """
    organization = Organization.objects.get(pk=organization.pk)  # the settings as they are now
    mode = organization.assignment_suggestion_mode
    if mode == Organization.SuggestionMode.OFF:
        return {"mode": mode}
    started = timezone.now()
    run = SuggestionRun(organization=organization, trigger=trigger, mode=mode, actor_label=actor.label[:200],
                        started_at=started)
    lease = lease_acquire(organization=organization, job=LEASE_JOB, now=started)
    if lease is None:  # politely: the live run does the work, this one says so
        run.status, run.finished_at = SuggestionRun.Status.SKIPPED, timezone.now()
        run.error = gettext("Another suggestion run of this organization was under way; this one was skipped.")
        run.save()
        return {"mode": mode, "skipped": True, "run": run.pk}
    try:
        _abandon_lapsed_runs(organization, lease, now=started)
        run.save()
        with lease.heartbeat():
            counts = _run(run, lease, organization=organization, actor=actor, mode=mode)
    except LeaseLost:  # stalled past the lease: the run that took over marks this one abandoned; write nothing
        logger.warning("Suggestion run %s of %s lost its lease to another run", run.pk, organization.slug)
        return {"mode": mode, "lost": True, "run": run.pk}
    finally:
        lease.release()
    if counts["created"] or counts["superseded"] or counts.get("auto_assigned"):
        audit_record(organization=organization, actor=actor, event="suggestion.refreshed", target=organization,
                     source=Source.SUGGESTION, after=counts)
    logger.info("Suggestions of %s: %s", organization.slug, counts)
    return counts | {"run": run.pk}


def _run(run: SuggestionRun, lease: Lease, *, organization: Organization, actor: Actor, mode: str) -> dict:
    try:
        counts = _reconcile(organization, actor=actor, lease=lease)
        if mode == Organization.SuggestionMode.AUTO:
            counts |= _auto_assign(organization, actor=actor, lease=lease)
    except LeaseLost:
        raise
    except Exception as exc:  # a bug or a database error must not leave the run "running"; logged in full
        logger.exception("Suggestion run of %s failed", organization.slug)
        _finish(run, lease, status=SuggestionRun.Status.FAILED, counts={},
                error=gettext("It stopped on an error (%(error)s); the suggestions are as the last good run "
                              "left them.") % {"error": exc.__class__.__name__})
        raise
    _finish(run, lease, status=SuggestionRun.Status.SUCCEEDED, counts=counts)
    return counts


def _finish(run: SuggestionRun, lease: Lease, *, status: str, counts: dict, error: str = "") -> None:
    """Record the outcome, unless another run took over meanwhile (it marked this one abandoned: leave that)."""
    with transaction.atomic():
        if not lease.renew():
            raise LeaseLost(LEASE_JOB)
        run.status, run.finished_at, run.counts, run.error = status, timezone.now(), counts, error[:1000]
        run.save(update_fields=["status", "finished_at", "counts", "error", "updated_at"])


def _abandon_lapsed_runs(organization: Organization, lease: Lease, *, now) -> int:
    """Holding the lease, this run knows no run still "running" is alive: mark them abandoned, saying why; and
    forget runs older than ``RUNS_KEPT``."""
    SuggestionRun.objects.for_org(organization).filter(started_at__lt=now - RUNS_KEPT).delete()
    if lease.previous is not None:
        why = gettext("Its worker stopped without finishing (lease lapsed at %(time)s, held by %(holder)s); the next "
                      "run marked it abandoned and scored in its place.") % lease.previous.details()
    else:
        why = gettext("Its worker stopped without finishing; the next run marked it abandoned and scored in its "
                      "place.")
    count = SuggestionRun.objects.for_org(organization).filter(status=SuggestionRun.Status.RUNNING).update(
        status=SuggestionRun.Status.ABANDONED, abandoned_at=now, error=why[:1000], updated_at=now)
    if count:
        logger.warning("Marked %d lapsed suggestion run(s) of %s abandoned", count, organization.slug)
    return count


def _reconcile(organization: Organization, *, actor: Actor, lease: Lease | None = None) -> dict:
    facts = suggestion_facts(organization=organization)
    scores = suggestion_scores(organization=organization, facts=facts)
    now = timezone.now()
    pending = {
        device_id: (pk, employee_id, mark, confidence, evidence)
        for pk, device_id, employee_id, mark, confidence, evidence in Suggestion.objects.for_org(organization)
        .filter(status=Suggestion.Status.PENDING).order_by()
        .values_list("pk", "device_id", "employee_id", "fingerprint", "confidence", "evidence")
        .iterator(chunk_size=BATCH)
    }
    stale: dict[str, list[int]] = defaultdict(list)
    changed: list[Suggestion] = []
    for device_id, (pk, employee_id, mark, confidence, evidence) in pending.items():
        score = scores.get(device_id)
        if employee_id in facts.leaving:
            stale[str(NOTE_LEAVING)].append(pk)
        elif score is None:
            stale[str(NOTE_NO_EVIDENCE if device_id in facts.labels else NOTE_DEVICE_GONE)].append(pk)
        elif (score.employee_id, score.fingerprint) != (employee_id, mark):
            stale[str(NOTE_REPLACED)].append(pk)
        elif (score.confidence, score.evidence) != (confidence, evidence):
            # Same person on the same facts; only the evidence about others moved the confidence.
            changed.append(Suggestion(pk=pk, confidence=score.confidence, evidence=score.evidence, updated_at=now))
    stale_pks = {pk for ids in stale.values() for pk in ids}
    keep = {device_id for device_id, row in pending.items() if row[0] not in stale_pks}
    new = [_new_suggestion(organization, score) for device_id, score in scores.items() if device_id not in keep]
    with transaction.atomic():
        if lease is not None and not lease.renew():  # fenced: the lease row stays locked until this commit
            raise LeaseLost(LEASE_JOB)
        superseded = _supersede(stale, actor=actor, now=now)
        for chunk in _chunks(changed):
            Suggestion.objects.bulk_update(chunk, ["confidence", "evidence", "updated_at"])
        Suggestion.objects.bulk_create(new, batch_size=BATCH)
    return {"mode": organization.assignment_suggestion_mode, "devices": len(facts.devices), "suggested": len(scores),
            "created": len(new), "updated": len(changed), "superseded": superseded}


def _auto_assign(organization: Organization, *, actor: Actor, lease: Lease | None = None) -> dict:
    """``auto``: assign each device not yet assigned whose pending suggestion reaches the threshold; phones and
    tablets stay pending for a person (``auto_held``), leavers' suggestions are never applied."""
    threshold = organization.suggestion_confidence_threshold
    confident = (
        suggestion_queryset(organization=organization)
        .filter(status=Suggestion.Status.PENDING, confidence__gte=threshold)
        .order_by("-confidence", "id")
    )
    held = confident.filter(device__platform__in=sorted(rules.MANUAL_ONLY_PLATFORMS)).count()
    confident = confident.exclude(device__platform__in=sorted(rules.MANUAL_ONLY_PLATFORMS))
    assigned, failed = 0, 0
    for suggestion in confident:
        if lease is not None:
            lease.check()  # the heartbeat found another run took over: stop; each assignment so far stands
        try:
            suggestion_accept(suggestion=suggestion, actor=actor, automatic=True)
            assigned += 1
        except DomainError as exc:  # assigned meanwhile, employee left, someone else is acting on it
            failed += 1
            logger.info("Auto mode left %s: %s", suggestion, exc.message)
    return {"auto_assigned": assigned, "auto_failed": failed, "auto_held": held}


def _lock(suggestion: Suggestion) -> Suggestion:
    try:
        return (
            Suggestion.objects.select_for_update(nowait=True)
            .get(pk=suggestion.pk, organization_id=suggestion.organization_id)
        )
    except OperationalError as exc:  # PostgreSQL: someone else is deciding it right now
        raise ConcurrentChange(gettext("Someone else is deciding this suggestion right now; try again in a "
                                       "moment.")) from exc


def _decide(suggestion: Suggestion, *, status: str, actor: Actor, note: str = "", automatic: bool = False) -> None:
    suggestion.status = status
    suggestion.decided_at = timezone.now()
    suggestion.decided_by = actor.label[:200]
    suggestion.decided_by_user = actor.user if actor.kind == "user" else None
    suggestion.automatic = automatic
    suggestion.note = note[:255]
    suggestion.save(update_fields=["status", "decided_at", "decided_by", "decided_by_user", "automatic", "note",
                                   "updated_at"])


def _refuse_decided(suggestion: Suggestion) -> None:
    if not suggestion.is_pending:
        raise IllegalTransition(gettext("This suggestion is already %(status)s.") % {
            "status": suggestion.get_status_display().lower()})


def _decision_after(suggestion: Suggestion) -> dict:
    return {"suggestion": suggestion.pk, "employee": suggestion.employee.email, "confidence": suggestion.confidence,
            "evidence": sorted({e["kind"] for e in suggestion.evidence_for})}


def _refuse_automatic(suggestion: Suggestion, device: Device) -> None:
    """``auto`` mode leaves phones and tablets, and leavers, to a person (``devices.rules``)."""
    held = rules.platform_hold_reason(device.platform)
    if held:
        raise IllegalTransition(held)
    why = employees_leaving(organization=device.organization, employee_ids=[suggestion.employee_id]).get(
        suggestion.employee_id)
    if why is not None:
        raise IllegalTransition(rules.leaving_hold_reason(name=suggestion.employee.display_name, why=why))


def suggestion_accept(*, suggestion: Suggestion, actor: Actor, automatic: bool = False) -> Suggestion:
    """Assign the device to the suggested employee (source ``suggestion``) and mark the suggestion accepted.

    ``automatic`` (``auto`` mode) refuses what only a person may accept: a phone or tablet, a leaver."""
    with transaction.atomic():
        locked = _lock(suggestion)
        _refuse_decided(locked)
        device = Device.objects.get(pk=locked.device_id, organization_id=locked.organization_id)
        if device.usage == Usage.SHARED:
            raise IllegalTransition(gettext("%(device)s is a shared device: it has a responsible technician, not an "
                                            "owner.") % {"device": device})
        if automatic:
            _refuse_automatic(locked, device)
        confidence = f"{locked.confidence:.0%}"
        device_assign(
            device=device, employee=locked.employee, actor=actor, source=Source.SUGGESTION,
            reason=Phrase("suggestion.auto_accepted" if automatic else "suggestion.accepted",
                          {"id": locked.pk, "confidence": confidence}),
        )
        _decide(locked, status=Suggestion.Status.ACCEPTED, actor=actor, automatic=automatic)
        audit_record(
            organization=device.organization, actor=actor, target=device, source=Source.SUGGESTION,
            event="suggestion.auto_assigned" if automatic else "suggestion.accepted",
            after=_decision_after(locked) | {"confidence": confidence},
        )
    return locked


def suggestion_reject(*, suggestion: Suggestion, actor: Actor, reason: str = "") -> Suggestion:
    """Not this person: remembered by fingerprint, so the same evidence never proposes them again."""
    with transaction.atomic():
        locked = _lock(suggestion)
        _refuse_decided(locked)
        _decide(locked, status=Suggestion.Status.REJECTED, actor=actor, note=reason.strip())
        audit_record(
            organization=locked.organization, actor=actor, target=locked.device, source=Source.SUGGESTION,
            event="suggestion.rejected",
            after=_decision_after(locked) | ({"reason": reason.strip()} if reason.strip() else {}),
        )
    return locked


def suggestions_decide_bulk(*, organization: Organization, ids, decision: str, actor: Actor, reason: str = "") -> dict:
    """Accept or reject many pending suggestions; each is its own change, so one that someone else settled
    meanwhile is reported (``failed``) without undoing the others. Unknown ids change nothing."""
    if decision not in {"accept", "reject"}:
        raise InvalidInput(gettext("Choose accept or reject."), field="decision")
    wanted = sorted({int(pk) for pk in ids})
    if not wanted:
        raise InvalidInput(gettext("Select at least one suggestion."), field="ids")
    if len(wanted) > MAX_BULK:
        raise InvalidInput(gettext("At most %(max)s suggestions at once.") % {"max": MAX_BULK}, field="ids")
    found = {
        s.pk: s for s in suggestion_queryset(organization=organization)
        .filter(pk__in=wanted, status=Suggestion.Status.PENDING)
    }
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        shown = ", ".join(f"#{pk}" for pk in missing[:10])
        raise InvalidInput(gettext("Not pending suggestions of this organization: %(shown)s.") % {
            "shown": shown}, field="ids")
    done, failed = 0, {}
    for pk in wanted:
        try:
            if decision == "accept":
                suggestion_accept(suggestion=found[pk], actor=actor)
            else:
                suggestion_reject(suggestion=found[pk], actor=actor, reason=reason)
            done += 1
        except DomainError as exc:
            failed[pk] = exc.message
    return {"accepted" if decision == "accept" else "rejected": done, "failed": failed}


def suggestions_withdraw_for_employee(*, employee, actor: Actor) -> int:
    """Offboarding: the leaver's pending suggestions are superseded (inside the offboarding's transaction)."""
    ids = list(Suggestion.objects.for_org(employee.organization)
               .filter(employee=employee, status=Suggestion.Status.PENDING).values_list("pk", flat=True))
    return _supersede({str(NOTE_OFFBOARDED): ids}, actor=actor, now=timezone.now()) if ids else 0
