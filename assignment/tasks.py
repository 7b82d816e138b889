"""Celery tasks of assignment (Celery's autodiscovery imports this module)."""

from assignment.suggestion_tasks import *  # noqa: F401,F403
