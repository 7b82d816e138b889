"""Queueing a Celery task by its name: how services ask for a job without importing the module that defines it
(tasks import services, so services importing tasks would make a cycle; a lower app queues a higher app's task).
"""

from celery import current_app
from celery.utils.imports import symbol_by_name


def enqueue(name: str, *args, countdown: float | None = None) -> None:
    """Queue the task ``name`` with ``args`` now. With ``CELERY_TASK_ALWAYS_EAGER`` (a set-up without a worker) it
    runs here, as ``.delay`` would: Celery's ``send_task`` ignores that setting, so the task is looked up by its name
    the way a worker finds it."""
    app = current_app
    if app.conf.task_always_eager:
        task = app.tasks.get(name) or symbol_by_name(name)
        task.apply_async(args=args)
    else:
        app.send_task(name, args=list(args), **({"countdown": countdown} if countdown else {}))
