"""How enrollment's services ask for a job: by the task's name, once the transaction commits.

``enrollment.tasks`` imports the services; the services never import the tasks, so the two cannot form a cycle.
Tests replace :func:`enqueue` to see what was queued without running it.
"""

import logging

from django.db import transaction

from core.dispatch import enqueue
from core.errors import ServiceUnavailable

__all__ = ["enqueue", "enqueue_on_commit", "enqueue_or_log_on_commit"]

logger = logging.getLogger(__name__)

SIGNIN_CODE_TASK = "enrollment.tasks.signin_code_task"
INVITATION_CHUNK_TASK = "enrollment.tasks.invitation_chunk_task"
FIX_INSTRUCTIONS_CHUNK_TASK = "enrollment.tasks.fix_instructions_chunk_task"
BATCHES_SWEEP_TASK = "enrollment.tasks.invitation_batches_sweep"


def enqueue_on_commit(name: str, *args) -> None:
    """Queue the task once the current transaction commits (at once outside one); nothing if it rolls back."""
    transaction.on_commit(lambda: enqueue(name, *args))  # looked up when called: tests replace it


def enqueue_or_log_on_commit(name: str, *args) -> None:
    """For work the database already records as due (a bulk send's next chunk): a broker that is down when the
    transaction commits is logged, not raised; the periodic sweep queues the chunk once the broker answers again."""

    def send():
        try:
            enqueue(name, *args)
        except ServiceUnavailable:
            logger.warning("Could not queue %s %s: the job broker is down; the batch sweep queues it later", name,
                           args[:3])

    transaction.on_commit(send)
