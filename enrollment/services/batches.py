"""What the bulk sends share (invitations and fix instructions): the e-mail of one send, a batch sent as chunk
tasks one after the other on the batch's lease, each chunk's mail session and its idempotent count, the sweep that
picks up a batch whose worker died, and the actor carried to the worker.

Nothing stays stuck (issue #12 §1). The chunk being sent holds the batch's lease (``core.leases``: renewed by a
heartbeat while it sends, released at its end) and queues the next chunk once it is done. A delivery of a chunk
that is done, or while another delivery holds the lease, sends nothing; each e-mail is recorded (``Invitation``
with ``batch``) in the transaction that sends it, so a redelivered chunk skips whoever already got it. A worker
killed mid-chunk stops renewing: once its lease lapsed (``JOB_LEASE_SECONDS``), :func:`batches_sweep` (every 30 s)
queues the first chunk not done again, and marks the batch ``abandoned`` if nothing finishes after it picked it up
``MAX_RESUMES`` times (waiting twice as long each time). The one e-mail a kill can repeat is the one the mail
server accepted in the instant before its invitation committed.
"""

import logging
from contextlib import contextmanager, suppress
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.leases import JobLease, LeaseLost, lease_acquire, lease_seconds, local_time
from core.models import ApiToken, Organization
from enrollment import dispatch, emails
from enrollment.models import Invitation, InvitationBatch

logger = logging.getLogger(__name__)

BULK_SEND_NOW_LIMIT = 50  # employees or devices e-mailed during the request; more are queued as chunk tasks
BULK_CHUNK_SIZE = 100  # per task: one SMTP session, about a minute of sending
BULK_MAIL_RETRIES = 5  # per chunk, backing off 30 s, 1 min, 2 min, 4 min, 8 min (± jitter)
MAX_RESUMES = 5  # times the sweep queues a stalled batch again, without a chunk finishing, before abandoning it


def send_mail(template: str, *, to: str, context: dict, connection=None) -> None:
    """After the commit (a request), or now through a chunk task's open mail connection (inside its transaction)."""
    if connection is None:
        emails.send_on_commit(template, to=to, context=context)
        return
    message = emails.build_message(template, to=to, context=context)
    message.connection = connection
    message.send(fail_silently=False)


def lease_job(batch_id: int) -> str:
    """The batch's lease (``core.leases``, one per organization and job name)."""
    return f"invitation-batch:{batch_id}"


def batch_queue(*, organization: Organization, kind: str, ids: list[int], actor: Actor, task: str,
                extra_args: tuple = ()) -> InvitationBatch | None:
    """Record the batch and queue its first chunk task once the transaction commits; each chunk is called as
    ``task(organization_id, batch_id, index, ids, actor_ref, *extra_args)`` and queues the next one when done.
    A broker that is down then does not lose the batch: the sweep queues it when the broker is back."""
    if not ids:
        return None
    size = BULK_CHUNK_SIZE
    chunks = (len(ids) + size - 1) // size
    with transaction.atomic():
        batch = InvitationBatch.objects.create(
            organization=organization, kind=kind, total=len(ids), chunks=chunks, requested_by=actor.label[:200],
            item_ids=list(ids), progress_at=timezone.now(),
            task_args={"task": task, "actor": actor_ref(actor), "extra": list(extra_args), "chunk_size": size})
        audit_record(organization=organization, actor=actor, event="enrollment.bulk_queued", target=organization,
                     source="enrollment", after={"kind": kind, "total": len(ids), "batch": batch.pk})
        _queue_chunk(batch, 0)
    return batch


def _queue_chunk(batch: InvitationBatch, index: int) -> None:
    args = batch.task_args
    size = args.get("chunk_size") or BULK_CHUNK_SIZE
    ids = batch.item_ids[index * size:(index + 1) * size]
    dispatch.enqueue_or_log_on_commit(args["task"], batch.organization_id, batch.pk, index, ids, args["actor"],
                                      *args.get("extra", ()))


@contextmanager
def chunk_mail(batch: InvitationBatch, index: int):
    """The chunk's one SMTP session. A mail server error is logged and raised: the task retries the chunk."""
    connection = emails.connection()
    try:
        connection.open()
        yield connection
    except OSError as exc:
        logger.warning("Chunk %d of %s batch %s (organization %s): the mail server failed (%s); the chunk is retried",
                       index, batch.kind, batch.pk, batch.organization_id, type(exc).__name__)
        raise
    finally:
        with suppress(OSError):
            connection.close()


def chunk_run(*, organization: Organization, batch_id: int, index: int, ids: list[int], load, send_one) -> dict:
    """One chunk task: ``load(ids)`` gives ``{id: object}``, ``send_one(batch, object or None, connection)``
    answers "sent", "already" (this batch sent it before) or "skipped". Sends nothing for a chunk that is done or
    a batch that is over, nor while another delivery holds the batch's lease (it goes on with the batch)."""
    batch = InvitationBatch.objects.for_org(organization).filter(pk=batch_id).first()
    if batch is None:
        return {"status": "gone"}
    if batch.status != InvitationBatch.Status.RUNNING or index in batch.chunks_done:
        return {"status": "done before" if index in batch.chunks_done else batch.status}
    lease = lease_acquire(organization=organization, job=lease_job(batch.pk))
    if lease is None:
        return {"status": "busy"}
    counts, following = {"sent": 0, "already": 0, "skipped": 0}, None
    try:
        if lease.previous is not None:
            logger.warning("Chunk %d of batch %s takes over from a worker that stopped (lease lapsed at %s)",
                           index, batch.pk, lease.previous.leased_until.isoformat())
        batch.refresh_from_db()  # another delivery may have finished it between the read and the lease
        if batch.status != InvitationBatch.Status.RUNNING or index in batch.chunks_done:
            return {"status": "done before"}
        objects = load(ids)
        with lease.heartbeat(), chunk_mail(batch, index) as connection:
            for item_id in ids:
                if not lease.renew():  # a progress point: another delivery took over (this one stalled), stop
                    raise LeaseLost(lease.job)
                counts[send_one(batch, objects.get(item_id), connection)] += 1
        following = chunk_done(batch, index, counts["skipped"])
    except LeaseLost:
        logger.warning("Chunk %d of batch %s lost its lease to another delivery; it stops", index, batch.pk)
        return {"status": "lost", **counts}
    finally:
        lease.release()
    if following is not None:
        _queue_chunk(batch, following)
    return {"status": "done", **counts}


def chunk_done(batch: InvitationBatch, index: int, skipped: int) -> int | None:
    """Count a chunk once, however many times it is delivered; the last one finishes the batch. Returns the chunk
    to queue next (the first not done), or None."""
    now = timezone.now()
    with transaction.atomic():
        locked = InvitationBatch.objects.select_for_update().get(pk=batch.pk)
        if index in locked.chunks_done or locked.status != InvitationBatch.Status.RUNNING:
            return None
        locked.chunks_done = sorted([*locked.chunks_done, index])
        locked.skipped += skipped
        locked.progress_at, locked.resumed = now, 0
        if len(locked.chunks_done) >= locked.chunks:
            locked.status, locked.finished_at = InvitationBatch.Status.FINISHED, now
            JobLease.objects.filter(organization_id=locked.organization_id, job=lease_job(locked.pk)).delete()
        locked.save(update_fields=["chunks_done", "skipped", "progress_at", "resumed", "status", "finished_at",
                                   "updated_at"])
    batch.chunks_done, batch.status = locked.chunks_done, locked.status
    if locked.status != InvitationBatch.Status.RUNNING or not locked.item_ids:
        return None  # finished; or a batch from before, whose chunks were all queued at once
    return locked.next_chunk


# --- the sweep ----------------------------------------------------------------------------------------------------


def batches_sweep(*, now=None) -> dict:
    """Every 30 s (beat): each running batch that no chunk is sending (no live lease) and that made no progress for a
    lease's time is queued again from its first chunk not done, waiting twice as long after each time; after
    ``MAX_RESUMES`` times without a chunk finishing it is abandoned, saying why. A system job over every
    organization's running batches (a handful, on a partial index); each batch is changed within its own."""
    now = now or timezone.now()
    stall = timedelta(seconds=lease_seconds())
    counts = {"resumed": 0, "abandoned": 0}
    for batch in InvitationBatch.objects.filter(status=InvitationBatch.Status.RUNNING).order_by("pk"):
        lease = JobLease.objects.filter(organization_id=batch.organization_id, job=lease_job(batch.pk)).first()
        if lease is not None and lease.holder and lease.leased_until > now:
            continue  # a chunk is being sent right now
        last = max(t for t in (batch.progress_at, batch.created_at, lease and lease.renewed_at) if t)
        if now - last < stall:
            continue  # just queued, or between two chunks
        if batch.resumed_at is not None and now - batch.resumed_at < stall * 2 ** batch.resumed:
            continue  # picked up again recently: give it time
        lapsed = lease if lease is not None and lease.holder else None  # never released: its worker died
        if batch.resumed >= MAX_RESUMES:
            counts["abandoned"] += _abandon(batch, now=now)
        else:
            counts["resumed"] += _resume(batch, now=now, lapsed=lapsed)
    if counts["resumed"] or counts["abandoned"]:
        logger.warning("Bulk sends: %(resumed)d picked up again, %(abandoned)d abandoned", counts)
    return counts


def _resume(batch: InvitationBatch, *, now, lapsed: JobLease | None) -> int:
    with transaction.atomic():
        locked = InvitationBatch.objects.select_for_update().filter(
            pk=batch.pk, status=InvitationBatch.Status.RUNNING, resumed=batch.resumed).first()
        if locked is None:
            return 0  # it moved meanwhile
        index = locked.next_chunk
        if lapsed is not None:
            why = gettext("Its worker stopped while sending chunk %(chunk)d of %(chunks)d (lease lapsed at %(time)s, "
                          "held by %(holder)s); picked up again at %(now)s.") % {
                "chunk": (index or 0) + 1, "chunks": locked.chunks, "time": local_time(lapsed.leased_until),
                "holder": lapsed.holder_label or "?", "now": local_time(now)}
        else:
            why = gettext("No chunk was being sent (its task was lost, or the mail server kept failing); picked up "
                          "again at %(now)s.") % {"now": local_time(now)}
        locked.resumed, locked.resumed_at, locked.message = locked.resumed + 1, now, why[:500]
        locked.save(update_fields=["resumed", "resumed_at", "message", "updated_at"])
        if index is not None and locked.item_ids:
            _queue_chunk(locked, index)
    logger.warning("Batch %s of organization %s: %s", batch.pk, batch.organization_id, why)
    return 1


def _abandon(batch: InvitationBatch, *, now) -> int:
    sent = Invitation.objects.filter(organization_id=batch.organization_id, batch=batch).count()
    why = gettext("Stopped: nothing more was sent after it was picked up again %(times)d times (its worker kept "
                  "stopping, or the mail server kept failing). %(sent)d of %(total)d sent; send to the others again "
                  "from the page that started it.") % {"times": batch.resumed, "sent": sent, "total": batch.total}
    with transaction.atomic():
        updated = InvitationBatch.objects.filter(pk=batch.pk, status=InvitationBatch.Status.RUNNING).update(
            status=InvitationBatch.Status.ABANDONED, abandoned_at=now, message=why[:500], updated_at=now)
        if not updated:
            return 0
        JobLease.objects.filter(organization_id=batch.organization_id, job=lease_job(batch.pk)).delete()
        audit_record(organization=batch.organization, actor=Actor.system("bulk sends"),
                     event="enrollment.bulk_abandoned", target=batch.organization, source="enrollment",
                     after={"kind": batch.kind, "total": batch.total, "sent": sent, "batch": batch.pk})
    logger.warning("Batch %s of organization %s abandoned: %s", batch.pk, batch.organization_id, why)
    return 1


def actor_ref(actor: Actor) -> dict:
    """An actor as a task argument (JSON); ``actor_from_ref`` reads it back in the worker."""
    return {"kind": actor.kind, "user": getattr(actor.user, "pk", None), "token": getattr(actor.token, "pk", None),
            "job": actor.job, "label": actor.label[:200]}


def actor_from_ref(ref: dict) -> Actor:
    if ref.get("kind") == "user":
        user = get_user_model().objects.filter(pk=ref.get("user")).first()
        if user is not None:
            return Actor.for_user(user)
    elif ref.get("kind") == "token":
        token = ApiToken.objects.filter(pk=ref.get("token")).first()
        if token is not None:
            return Actor.for_token(token)
    elif ref.get("kind") == "system":
        return Actor.system(ref.get("job") or "enrollment")
    return Actor.system(ref.get("label") or "enrollment")  # the user or token is gone since it was queued
