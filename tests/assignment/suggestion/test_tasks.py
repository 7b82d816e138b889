"""Suggestion jobs: the beat fan-out (one task per organization not ``off``) and the per-organization run."""

from assignment.suggestion import tasks
from assignment.suggestion.models import Suggestion
from core.models import AuditEvent, Organization
from tests.factories import DeviceFactory, OrganizationFactory


def test_fan_out_queues_one_run_per_organization_not_off(monkeypatch, org, other_org):
    Organization.objects.filter(pk=other_org.pk).update(assignment_suggestion_mode=Organization.SuggestionMode.AUTO)
    OrganizationFactory(slug="quiet")  # off: a new organization's default
    queued = []
    monkeypatch.setattr(tasks.suggestions_refresh_organization, "delay", queued.append)
    assert tasks.suggestions_refresh_all() == {"queued": 2}
    assert sorted(queued) == sorted([org.pk, other_org.pk])


def test_organization_run_computes_and_is_idempotent(org, employee):
    DeviceFactory(organization=org, fleet_emails=[{"email": "ada@acme.test", "source": "custom"}])
    result = tasks.suggestions_refresh_organization(org.pk)
    assert result["organization"] == org.pk and result["created"] == 1
    assert tasks.suggestions_refresh_organization(org.pk)["created"] == 0  # redelivered: no change
    assert Suggestion.objects.filter(status="pending").count() == 1
    assert AuditEvent.objects.get(event="suggestion.refreshed").actor_label == "System (assignment_suggestion)"


def test_organization_gone(db):
    assert tasks.suggestions_refresh_organization(987654) == {"organization": 987654, "status": "gone"}


def test_the_task_names_beat_uses():
    from cockpit.celery import app

    app.loader.import_default_modules()
    assert "assignment.suggestion.tasks.suggestions_refresh_all" in app.tasks
    assert "assignment.suggestion.tasks.suggestions_refresh_organization" in app.tasks
    beat = app.conf.beat_schedule["assignment-suggestion"]
    assert beat["task"] == "assignment.suggestion.tasks.suggestions_refresh_all"
