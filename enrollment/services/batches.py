"""What the bulk sends share (invitations and fix instructions): the e-mail of one send, a batch queued as chunk
tasks, each chunk's mail session and its idempotent count, and the actor carried to the worker."""

import logging
from contextlib import contextmanager, suppress

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.audit import audit_record
from core.models import ApiToken, Organization
from enrollment import dispatch, emails
from enrollment.models import InvitationBatch

logger = logging.getLogger(__name__)

BULK_SEND_NOW_LIMIT = 50  # employees or devices e-mailed during the request; more are queued as chunk tasks
BULK_CHUNK_SIZE = 100  # per task: one SMTP session, about a minute of sending
BULK_MAIL_RETRIES = 5  # per chunk, backing off 30 s, 1 min, 2 min, 4 min, 8 min (± jitter)


def send_mail(template: str, *, to: str, context: dict, connection=None) -> None:
    """After the commit (a request), or now through a chunk task's open mail connection (inside its transaction)."""
    if connection is None:
        emails.send_on_commit(template, to=to, context=context)
        return
    message = emails.build_message(template, to=to, context=context)
    message.connection = connection
    message.send(fail_silently=False)


def batch_queue(*, organization: Organization, kind: str, ids: list[int], actor: Actor, task: str,
                extra_args: tuple = ()) -> InvitationBatch | None:
    """Record the batch and queue one ``task`` per ``BULK_CHUNK_SIZE`` ids once the transaction commits, called as
    ``task(organization_id, batch_id, index, ids, actor_ref, *extra_args)``."""
    if not ids:
        return None
    chunks = [ids[start:start + BULK_CHUNK_SIZE] for start in range(0, len(ids), BULK_CHUNK_SIZE)]
    ref = actor_ref(actor)
    with transaction.atomic():
        batch = InvitationBatch.objects.create(organization=organization, kind=kind, total=len(ids),
                                               chunks=len(chunks), requested_by=actor.label[:200])
        audit_record(organization=organization, actor=actor, event="enrollment.bulk_queued", target=organization,
                     source="enrollment", after={"kind": kind, "total": len(ids), "batch": batch.pk})
        for index, chunk in enumerate(chunks):
            dispatch.enqueue_on_commit(task, organization.pk, batch.pk, index, chunk, ref, *extra_args)
    return batch


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


def chunk_done(batch: InvitationBatch, index: int, skipped: int) -> None:
    """Count a chunk once, however many times it is delivered; the last one finishes the batch."""
    with transaction.atomic():
        locked = InvitationBatch.objects.select_for_update().get(pk=batch.pk)
        if index in locked.chunks_done:
            return
        locked.chunks_done = sorted([*locked.chunks_done, index])
        locked.skipped += skipped
        if len(locked.chunks_done) >= locked.chunks:
            locked.finished_at = timezone.now()
        locked.save(update_fields=["chunks_done", "skipped", "finished_at", "updated_at"])


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
