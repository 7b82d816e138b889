"""The cockpit's webhook pages (Settings → Webhooks): endpoints added, edited, tested, rotated, disabled and deleted,
the secret shown once, and the delivery log with redelivery. Owners and admins only."""

import pytest
from django.urls import reverse

from core.models import AuditEvent, Membership
from devices import services as device_services
from tests.conftest import member
from tests.webhooks.factories import AttemptFactory, DeliveryFactory
from webhooks.models import Delivery, Endpoint


def url(name, org, *args):
    return reverse(name, args=[org.slug, *args])


def test_the_settings_menu_links_to_the_page_which_lists_the_endpoints(cockpit_client, org, endpoint):
    page = cockpit_client.get(url("dashboard", org)).content.decode()
    assert url("webhookendpoint_list", org) in page
    response = cockpit_client.get(url("webhookendpoint_list", org))
    assert response.status_code == 200
    body = response.content.decode()
    assert endpoint.url in body and "HR system" in body and "device.enrollment_changed" in body


def test_adding_an_endpoint_shows_its_secret_once(cockpit_client, org, receiver):
    response = cockpit_client.post(url("webhookendpoint_create", org), {
        "url": receiver.url, "description": "Workday", "event_types": ["device.assigned", "employee.created"]})
    assert response.status_code == 200
    endpoint = Endpoint.objects.for_org(org).get()
    secret = response.context["new_secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode() and secret == endpoint.secret
    assert endpoint.event_types == ["device.assigned", "employee.created"]
    assert secret not in cockpit_client.get(url("webhookendpoint_detail", org, endpoint.pk)).content.decode()
    assert AuditEvent.objects.filter(event="webhook_endpoint.created").get().actor_type == "user"


def test_a_private_url_is_refused_on_the_form(cockpit_client, org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = cockpit_client.post(url("webhookendpoint_create", org), {
        "url": "http://169.254.169.254/latest/", "event_types": ["device.assigned"]})
    assert response.status_code == 400
    assert "link-local address" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_an_endpoint_without_events_is_refused(cockpit_client, org, receiver):
    response = cockpit_client.post(url("webhookendpoint_create", org), {"url": receiver.url})
    assert response.status_code == 400 and not Endpoint.objects.exists()


def test_editing_an_endpoint(cockpit_client, org, endpoint):
    response = cockpit_client.get(url("webhookendpoint_edit", org, endpoint.pk))
    assert response.status_code == 200 and endpoint.url in response.content.decode()
    response = cockpit_client.post(url("webhookendpoint_edit", org, endpoint.pk), {
        "url": endpoint.url, "description": "Payroll", "event_types": ["sync.failed"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types) == ("Payroll", ["sync.failed"])
    entry = AuditEvent.objects.get(event="webhook_endpoint.updated")
    assert entry.after == {"description": "Payroll", "event_types": ["sync.failed"]}


def test_rotating_the_secret_shows_the_new_one_once(cockpit_client, org, endpoint):
    old = endpoint.secret
    response = cockpit_client.post(url("webhookendpoint_rotate", org, endpoint.pk))
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert response.context["new_secret"] == endpoint.secret != old
    assert "The previous secret signs too until" in response.content.decode()


def test_sending_a_test_event(cockpit_client, org, endpoint, receiver):
    response = cockpit_client.post(url("webhookendpoint_test", org, endpoint.pk), follow=True)
    assert "The test event was delivered: HTTP 204." in response.content.decode()
    assert receiver.payloads("ping") and receiver.received[0].verified
    receiver.answers = [500]
    response = cockpit_client.post(url("webhookendpoint_test", org, endpoint.pk), follow=True)
    assert "The test event was not delivered: Answered HTTP 500." in response.content.decode()


def test_disabling_then_enabling(cockpit_client, org, endpoint):
    response = cockpit_client.post(url("webhookendpoint_disable", org, endpoint.pk), follow=True)
    assert "The endpoint is disabled" in response.content.decode()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason.startswith("Disabled by")
    cockpit_client.post(url("webhookendpoint_enable", org, endpoint.pk))
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_deleting_asks_first(cockpit_client, org, endpoint):
    response = cockpit_client.get(url("webhookendpoint_delete", org, endpoint.pk))
    assert response.status_code == 200 and "its delivery log" in response.content.decode()
    assert Endpoint.objects.exists()
    response = cockpit_client.post(url("webhookendpoint_delete", org, endpoint.pk))
    assert response.status_code == 302 and not Endpoint.objects.exists()


def test_the_delivery_log_and_a_delivery(cockpit_client, org):
    attempt = AttemptFactory(organization=org, response_excerpt="upstream said no")
    DeliveryFactory(organization=org, status="succeeded", delivered_at="2026-01-01T00:00:00Z")
    response = cockpit_client.get(url("webhookdelivery_list", org), {"status": "pending"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["page"]] == [attempt.delivery.pk]
    detail = cockpit_client.get(url("webhookdelivery_detail", org, attempt.delivery.pk)).content.decode()
    assert attempt.delivery.message.public_id in detail and "upstream said no" in detail
    assert "&quot;type&quot;: &quot;device.assigned&quot;" in detail  # the payload, as JSON


def test_redelivering_from_the_log(cockpit_client, org, endpoint, receiver, relay, employee, device, actor,
                                   queued_sending):
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", failed_at="2026-01-01T00:00:00Z")
    queued_sending.clear()
    response = cockpit_client.post(url("webhookdelivery_redeliver", org, delivery.pk), follow=True)
    assert "Queued for delivery again" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.round_attempts == 0


def test_redelivering_to_a_disabled_endpoint_says_why(cockpit_client, org):
    delivery = DeliveryFactory(organization=org, endpoint__enabled=False,
                               endpoint__disabled_at="2026-01-01T00:00:00Z")
    response = cockpit_client.post(url("webhookdelivery_redeliver", org, delivery.pk), follow=True)
    assert "is disabled: enable it first" in response.content.decode()


@pytest.mark.parametrize("role", [Membership.Role.TECHNICIAN, Membership.Role.VIEWER])
def test_only_owners_and_admins_reach_the_pages(client, org, endpoint, role):
    client.force_login(member(org, role))
    assert client.get(url("webhookendpoint_list", org)).status_code == 403
    assert client.get(url("webhookdelivery_list", org)).status_code == 403
    assert client.post(url("webhookendpoint_test", org, endpoint.pk)).status_code == 403
