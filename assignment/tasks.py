"""Celery tasks of assignment: Celery's autodiscovery imports ``<app>.tasks``, so each task module of the
app is imported here by name (their task names follow their modules: ``assignment.suggestion.tasks.…``)."""

from assignment.suggestion import tasks as suggestion_tasks

__all__ = ["suggestion_tasks"]
