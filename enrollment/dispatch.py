"""How enrollment's services ask for a job: by the task's name, once the transaction commits.

``enrollment.tasks`` imports the services; the services never import the tasks, so the two cannot form a cycle.
Tests replace :func:`enqueue` to see what was queued without running it.
"""

from celery import current_app
from celery.utils.imports import symbol_by_name
from django.db import transaction

SIGNIN_CODE_TASK = "enrollment.tasks.signin_code_task"
INVITATION_CHUNK_TASK = "enrollment.tasks.invitation_chunk_task"
FIX_INSTRUCTIONS_CHUNK_TASK = "enrollment.tasks.fix_instructions_chunk_task"


def enqueue(name: str, *args) -> None:
    """Queue the task ``name`` with ``args`` now. With ``CELERY_TASK_ALWAYS_EAGER`` (the tests, a set-up without a
    worker) it runs here, as ``.delay`` would: Celery's ``send_task`` ignores that setting, so the task is looked up
    by its name the way a worker finds it."""
    app = current_app
    if app.conf.task_always_eager:
        task = app.tasks.get(name) or symbol_by_name(name)
        task.apply_async(args=args)
    else:
        app.send_task(name, args=list(args))


def enqueue_on_commit(name: str, *args) -> None:
    """Queue the task once the current transaction commits (at once outside one); nothing if it rolls back."""
    transaction.on_commit(lambda: enqueue(name, *args))
