"""The webhook jobs on beat's schedule: the relay, the sender of what is due, and the log's pruning."""

from datetime import timedelta

from django.utils import timezone

from cockpit.celery import app
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory
from webhooks import tasks
from webhooks.models import Attempt, Delivery, Message


def test_the_jobs_are_on_the_one_schedule():
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    for name in ("webhooks.tasks.webhooks_relay", "webhooks.tasks.webhooks_send_due", "webhooks.tasks.webhooks_prune"):
        assert name in scheduled and name in app.tasks


def test_the_periodic_sender_queues_the_organizations_with_a_delivery_due(org, other_org, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.webhooks_send, "delay", queued.append)
    DeliveryFactory(organization=org)  # due now
    DeliveryFactory(organization=org, next_attempt_at=timezone.now() + timedelta(minutes=5))  # backed off
    DeliveryFactory(organization=other_org, endpoint=EndpointFactory(
        organization=other_org, enabled=False, disabled_at=timezone.now()))  # its endpoint is disabled
    assert tasks.webhooks_send_due.apply().get() == {"queued": 1}
    assert queued == [org.pk]


def test_a_gone_organization_sends_nothing(db):
    assert tasks.webhooks_send.apply(args=[987654]).get() == {"organization": 987654, "status": "gone"}


def test_the_log_keeps_thirty_days_and_what_still_waits(org):
    old_done = AttemptFactory(organization=org, delivery__status="succeeded",
                              delivery__delivered_at=timezone.now()).delivery
    old_waiting = DeliveryFactory(organization=org)
    recent = DeliveryFactory(organization=org, status="failed", failed_at=timezone.now())
    Message.objects.filter(pk__in=[old_done.message_id, old_waiting.message_id]).update(
        created_at=timezone.now() - timedelta(days=31))
    assert tasks.webhooks_prune.apply().get() == {"deleted": 1}
    assert set(Delivery.objects.values_list("pk", flat=True)) == {old_waiting.pk, recent.pk}
    assert not Attempt.objects.exists()
