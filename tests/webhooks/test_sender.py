"""Sending against a real receiver that fails in every way a receiver fails: answers 500, answers too late, hangs up,
is not there at all, redirects. Retries back off; an endpoint that keeps failing is disabled and its owners are
e-mailed; a delivery is redelivered on demand with the same ``webhook-id``; a rotated secret signs alongside the new
one for a day."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from core.models import AuditEvent, Membership
from devices import services as device_services
from tests.conftest import assert_error, member
from tests.factories import DeviceFactory, EmployeeFactory
from tests.webhooks.receiver import closed_port
from webhooks import sender, services
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.usefixtures("send_now")


@pytest.fixture
def assigned(org, endpoint, relay, actor):
    """``n`` devices assigned, their events read by the relay (and sent once)."""

    def make(n=1):
        for _ in range(n):
            device_services.device_assign(device=DeviceFactory(organization=org),
                                          employee=EmployeeFactory(organization=org), actor=actor)
        relay()
        return list(Delivery.objects.for_org(org).order_by("pk"))

    return make


def time_passes(*deliveries):
    """Their next try is due now."""
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(next_attempt_at=timezone.now())


def send(org):
    return sender.deliveries_send_due(organization=org)


def test_a_500_is_retried_with_backoff_then_delivered(org, receiver, assigned):
    receiver.answers = [500, 500]
    receiver.response_body = b"database is down"
    before = timezone.now()
    delivery, = assigned()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert timedelta(seconds=29) <= delivery.next_attempt_at - before <= timedelta(seconds=35)
    attempt = Attempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 500, False)
    assert attempt.response_excerpt == "database is down" and attempt.error == "Answered HTTP 500."
    assert attempt.next_attempt_at == delivery.next_attempt_at

    assert send(org)["delivered"] == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1

    time_passes(delivery)
    now = timezone.now()
    send(org)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and timedelta(seconds=89) <= delivery.next_attempt_at - now <= timedelta(seconds=95)
    time_passes(delivery)
    send(org)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 204)
    ids = {item.headers["webhook-id"] for item in receiver.received}
    assert len(ids) == 1 and all(item.verified for item in receiver.received)  # one message, three signed tries
    assert Endpoint.objects.get().consecutive_failures == 0


def test_an_endpoint_too_slow_to_answer_times_out(org, receiver, assigned):
    receiver.answers = ["slow"]
    delivery, = assigned()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error == "No answer within 1 seconds."
    assert Attempt.objects.get().duration_ms < 2500


def test_an_endpoint_that_hangs_up_is_a_failure(org, receiver, assigned):
    receiver.answers = ["hang_up"]
    delivery, = assigned()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_error.startswith("Could not connect")


def test_nothing_listening_is_a_refused_connection(org, endpoint, relay, actor, employee, device):
    Endpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{closed_port()}/hooks")
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error == "Could not connect: connection refused"


def test_a_redirect_is_not_followed(org, receiver, assigned):
    receiver.answers = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    delivery, = assigned()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.received) == 1


def test_a_long_answer_is_read_only_in_part(org, receiver, assigned):
    receiver.default = 200
    receiver.response_body = b"x" * 200_000
    delivery, = assigned()
    assert len(Attempt.objects.get(delivery=delivery).response_excerpt) == 1000


def test_a_delivery_gives_up_after_the_last_attempt(org, receiver, assigned, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    receiver.default = 503
    delivery, = assigned()
    for _ in range(2):
        time_passes(delivery)
        send(org)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert delivery.failed_at is not None
    time_passes(delivery)
    send(org)
    assert len(receiver.received) == 3


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owners_told(org, receiver, assigned, settings,
                                                                         django_capture_on_commit_callbacks):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 0
    member(org, Membership.Role.OWNER, email="owner@acme.test")
    member(org, Membership.Role.OWNER, email="cofounder@acme.test")
    member(org, Membership.Role.ADMIN, email="admin@acme.test")
    receiver.default = 500
    first, second, third, fourth = assigned(4)  # one failure a run: the others wait their turn
    assert [d.attempts for d in Delivery.objects.order_by("pk")] == [1, 0, 0, 0]
    for _ in range(2):
        time_passes(first, second, third, fourth)
        with django_capture_on_commit_callbacks(execute=True):
            send(org)
    endpoint = Endpoint.objects.get()
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert endpoint.disabled_reason.startswith("Disabled automatically: 3 failed attempts in a row")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    assert Delivery.objects.filter(last_error="The endpoint was disabled.").count() == 3  # the 4th failed itself
    entry = AuditEvent.objects.get(event="webhook_endpoint.disabled")
    assert entry.actor_label == "System (webhooks)" and "3 failed attempts" in entry.sentence
    assert sorted(message.to[0] for message in mail.outbox) == ["cofounder@acme.test", "owner@acme.test"]
    body = mail.outbox[0].body
    assert endpoint.url in body and "/settings/webhooks/" in body and "Answered HTTP 500." in body
    time_passes(*Delivery.objects.all())
    assert send(org)["delivered"] == 0 and len(receiver.received) == 3  # nothing goes to a disabled endpoint


def test_failures_over_a_short_time_do_not_disable(org, receiver, assigned, settings):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 24
    receiver.default = 500
    delivery, = assigned()
    time_passes(delivery)
    send(org)
    endpoint = Endpoint.objects.get()
    assert endpoint.enabled and endpoint.consecutive_failures == 2 and mail.outbox == []


def test_a_success_clears_the_failure_count(org, receiver, assigned):
    receiver.answers = [500]
    delivery, = assigned()
    assert Endpoint.objects.get().consecutive_failures == 1
    time_passes(delivery)
    send(org)
    endpoint = Endpoint.objects.get()
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None) and endpoint.last_success_at


def test_a_claimed_delivery_is_not_sent_twice(org, endpoint, receiver, relay, actor, employee, device,
                                              queued_sending, monkeypatch):
    from webhooks import outbox

    monkeypatch.setattr(outbox, "queue_sending", queued_sending.append)  # the relay only queues
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    delivery = Delivery.objects.get()
    assert sender._claim(delivery.pk, now=timezone.now(), force=False) is not None  # a worker took it
    assert send(org) == {"delivered": 0, "retrying": 0, "failed": 0, "skipped": 0, "more": False}
    assert receiver.received == []


def test_a_redelivery_sends_the_same_message_again(org, receiver, assigned, api, django_capture_on_commit_callbacks):
    receiver.default = 500
    delivery, = assigned()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", failed_at=timezone.now(), next_attempt_at=None)
    receiver.default = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:webhookdelivery-redeliver", args=[delivery.pk]))
    assert response.status_code == 202, response.content
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and second.verified
    assert AuditEvent.objects.filter(event="webhook_delivery.redelivered").exists()


def test_a_delivered_one_can_be_redelivered_too(org, receiver, assigned, api, django_capture_on_commit_callbacks):
    delivery, = assigned()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(reverse("api:webhookdelivery-redeliver", args=[delivery.pk])).json()
    assert answer["status"] == "pending" and answer["attempts"] == 1  # queued: sent once the request committed
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(receiver.received) == 2


def test_redelivery_to_a_disabled_endpoint_is_refused(org, receiver, assigned, api):
    delivery, = assigned()
    services.endpoint_update(endpoint=delivery.endpoint, actor=Actor.system("tests"), enabled=False)
    body = assert_error(api.post(reverse("api:webhookdelivery-redeliver", args=[delivery.pk])), 409,
                        code="illegal_transition")
    assert "enable it first" in body["detail"]
    assert len(receiver.received) == 1


def test_a_rotated_secret_signs_alongside_the_new_one_for_a_day(org, endpoint, receiver, assigned, api):
    old = receiver.secrets[0]
    rotated = api.post(reverse("api:webhookendpoint-rotate-secret", args=[endpoint.pk])).json()
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_")
    receiver.secrets[:] = [old]
    assigned()
    receiver.secrets[:] = [new]
    assigned()
    assert [item.verified for item in receiver.received] == [True, True]
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now())
    receiver.secrets[:] = [old]
    assigned()
    assert not receiver.received[-1].verified  # a day later, only the new one signs


def test_a_ping_is_tried_once_and_never_counts_against_the_endpoint(org, endpoint, receiver, api):
    receiver.answers = [500]
    failed = api.post(reverse("api:webhookendpoint-test", args=[endpoint.pk])).json()
    assert failed["status"] == "failed" and failed["message"]["type"] == "ping"
    assert failed["attempt_log"][0]["status_code"] == 500
    assert Endpoint.objects.get().consecutive_failures == 0
    delivered = api.post(reverse("api:webhookendpoint-test", args=[endpoint.pk])).json()
    assert delivered["status"] == "succeeded"
    ping = receiver.payloads("ping")[0]
    assert ping["data"]["endpoint"] == {"id": endpoint.pk, "url": endpoint.url}
    assert AuditEvent.objects.filter(event="webhook_endpoint.tested").count() == 2
