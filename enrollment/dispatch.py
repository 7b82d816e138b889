"""How enrollment's services ask for a job: by the task's name, once the transaction commits.

``enrollment.tasks`` imports the services; the services never import the tasks, so the two cannot form a cycle.
Tests replace :func:`enqueue` to see what was queued without running it.
"""

from django.db import transaction

from core.dispatch import enqueue

__all__ = ["enqueue", "enqueue_on_commit"]

SIGNIN_CODE_TASK = "enrollment.tasks.signin_code_task"
INVITATION_CHUNK_TASK = "enrollment.tasks.invitation_chunk_task"
FIX_INSTRUCTIONS_CHUNK_TASK = "enrollment.tasks.fix_instructions_chunk_task"


def enqueue_on_commit(name: str, *args) -> None:
    """Queue the task once the current transaction commits (at once outside one); nothing if it rolls back."""
    transaction.on_commit(lambda: enqueue(name, *args))  # looked up when called: tests replace it
