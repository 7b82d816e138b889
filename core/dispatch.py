"""Queueing a Celery task by its name: how services ask for a job without importing the module that defines it
(tasks import services, so services importing tasks would make a cycle; a lower app queues a higher app's task).
"""

import logging

from celery import current_app
from celery.utils.imports import symbol_by_name
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError

from core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)


def enqueue(name: str, *args, countdown: float | None = None) -> None:
    """Queue the task ``name`` with ``args`` now. With ``CELERY_TASK_ALWAYS_EAGER`` (a set-up without a worker) it
    runs here, as ``.delay`` would: Celery's ``send_task`` ignores that setting, so the task is looked up by its name
    the way a worker finds it. A broker that cannot be reached raises :class:`ServiceUnavailable` (503)."""
    app = current_app
    if app.conf.task_always_eager:
        task = app.tasks.get(name) or symbol_by_name(name)
        task.apply_async(args=args)
        return
    try:
        app.send_task(name, args=list(args), **({"countdown": countdown} if countdown else {}))
    except (OperationalError, OSError) as exc:  # the broker is unreachable: say so, don't pretend it is queued
        logger.error("Could not queue %s: the job broker is unreachable (%s)", name, exc)
        raise ServiceUnavailable(_("The job queue is unavailable right now; nothing was started. Try again in a "
                                   "few minutes.")) from exc


def enqueue_or_log(name: str, *args, countdown: float | None = None) -> bool:
    """For work the database already records as due (a device command, a group label): a broker that is down
    only delays it until the periodic job that sends what is due runs again, so it is logged, not raised."""
    try:
        enqueue(name, *args, countdown=countdown)
    except ServiceUnavailable:
        return False
    return True


def retry_delay(attempts: int, *, first, longest):
    """How long a job that failed ``attempts`` times waits before its next try: ``first``, then three times longer
    each time, never more than ``longest`` (both ``timedelta``)."""
    return min(first * (3 ** max(attempts - 1, 0)), longest)
