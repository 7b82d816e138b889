"""Celery tasks of assignment suggestion (imported by ``assignment.tasks`` for Celery's autodiscovery).

Beat (``cockpit/celery.py``) runs :func:`suggestions_refresh_all` on its own schedule; it queues one
:func:`suggestions_refresh_organization` per organization whose mode is not ``off``. After each sync
the same service runs inline as the sync's after-sync step (order 50). Tasks import services; services
never import tasks.
"""

from celery import shared_task

from assignment.suggestion.services import suggestions_refresh
from core.actors import Actor
from core.models import Organization

__all__ = ["suggestions_refresh_all", "suggestions_refresh_organization"]


@shared_task
def suggestions_refresh_all() -> dict:
    organization_ids = list(
        Organization.objects.exclude(assignment_suggestion_mode=Organization.SuggestionMode.OFF)
        .order_by("pk").values_list("pk", flat=True)
    )
    for organization_id in organization_ids:
        suggestions_refresh_organization.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def suggestions_refresh_organization(organization_id: int) -> dict:
    """Idempotent: a redelivered run finds the same facts and changes nothing; while a live run holds the
    organization's lease the second is recorded ``skipped``; once the lease of a run whose worker died has lapsed,
    this one marks it ``abandoned`` and scores (``services.suggestions_refresh``)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    counts = suggestions_refresh(organization=organization, actor=Actor.system("assignment_suggestion"))
    return {"organization": organization_id, **counts}
