"""``/api/v1/webhooks/endpoints/`` and ``/api/v1/webhooks/deliveries/``: the shared API suite, then the secret shown
once, strict input, enabling and disabling, and the delivery log's filters."""

from django.urls import reverse

from core.crypto import decrypt
from core.models import AuditEvent
from tests.api_cases import APIViewTestCase
from tests.conftest import assert_error
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory, MessageFactory
from webhooks.models import Delivery, Endpoint

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


class TestEndpointAPI(APIViewTestCase):
    url_name = "api:webhookendpoint"
    factory = EndpointFactory
    create_data = {"url": "http://127.0.0.1:9/hooks", "event_types": ["device.assigned"], "description": "HR"}
    update_data = {"description": "Workday", "event_types": ["employee.created", "device.assigned"]}
    list_max_queries = 3

    def audit_event(self, action: str) -> str:
        return {"create": "webhook_endpoint.created", "destroy": "webhook_endpoint.deleted"}.get(
            action, "webhook_endpoint.updated")

    def assert_applied(self, body: dict, payload: dict) -> None:
        expected = dict(payload)
        if "event_types" in expected:  # kept in the registry's order
            expected["event_types"] = sorted(expected["event_types"], key=["device.assigned",
                                                                            "employee.created"].index)
        super().assert_applied(body, expected)


class TestDeliveryAPI(APIViewTestCase):
    url_name = "api:webhookdelivery"
    factory = DeliveryFactory
    list_max_queries = 4

    def make_object(self, organization):
        return AttemptFactory(organization=organization).delivery

    def check_list_rows(self, rows):
        assert all(row["attempt_log"][0]["status_code"] == 500 for row in rows)
        assert all(row["endpoint"]["url"].startswith("https://hooks") for row in rows)


def test_the_secret_is_answered_on_creation_only_and_stored_encrypted(org, api):
    created = api.post(ENDPOINTS, TestEndpointAPI.create_data, format="json").json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = Endpoint.objects.get(pk=created["id"])
    assert secret not in stored.secret_encrypted and decrypt(stored.secret_encrypted) == secret
    assert "secret" not in api.get(reverse("api:webhookendpoint-detail", args=[stored.pk])).json()
    assert all("secret" not in row for row in api.get(ENDPOINTS).json()["results"])
    assert secret not in str(AuditEvent.objects.get(event="webhook_endpoint.created").after)


def test_rotating_answers_a_new_secret_once_and_keeps_the_old_one_a_day(org, api):
    endpoint = EndpointFactory(organization=org)
    old = endpoint.secret
    body = api.post(reverse("api:webhookendpoint-rotate-secret", args=[endpoint.pk])).json()
    endpoint.refresh_from_db()
    assert body["secret"] == endpoint.secret != old
    assert body["previous_secret_until"] is not None
    assert endpoint.signing_secrets() == [body["secret"], old]
    assert AuditEvent.objects.filter(event="webhook_endpoint.secret_rotated", target_id=str(endpoint.pk)).exists()


def test_event_types_are_checked(org, api):
    for event_types, message in ((["device.exploded"], '"device.exploded" is not a valid choice.'),
                                 ([], "This list may not be empty.")):
        body = assert_error(api.post(ENDPOINTS, {"url": "http://127.0.0.1:9/", "event_types": event_types},
                                     format="json"), 400)
        assert any(message in text for texts in body["fields"].values() for text in texts), body
    body = assert_error(api.post(ENDPOINTS, {"url": "http://127.0.0.1:9/", "event_types": ["ping"]},
                                 format="json"), 400)
    assert not Endpoint.objects.exists(), body


def test_unknown_and_read_only_fields_are_refused(org, api):
    body = assert_error(api.post(ENDPOINTS, {"url": "http://127.0.0.1:9/", "event_types": ["device.assigned"],
                                             "secret": "whsec_mine", "colour": "red"}, format="json"), 400)
    assert set(body["fields"]) == {"secret", "colour"}


def test_disabling_and_enabling_through_patch(org, api):
    endpoint = EndpointFactory(organization=org, consecutive_failures=4)
    delivery = DeliveryFactory(organization=org, endpoint=endpoint)
    url = reverse("api:webhookendpoint-detail", args=[endpoint.pk])
    body = api.patch(url, {"enabled": False}, format="json").json()
    assert body["enabled"] is False and body["disabled_at"] and body["disabled_reason"].startswith("Disabled by API")
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error == "The endpoint was disabled."
    body = api.patch(url, {"enabled": True}, format="json").json()
    assert (body["enabled"], body["disabled_at"], body["disabled_reason"], body["consecutive_failures"]) == (
        True, None, "", 0)
    assert list(AuditEvent.objects.for_target(endpoint).values_list("event", flat=True)) == [
        "webhook_endpoint.enabled", "webhook_endpoint.disabled"]


def test_deleting_an_endpoint_deletes_its_log(org, api):
    attempt = AttemptFactory(organization=org)
    endpoint = attempt.delivery.endpoint
    assert api.delete(reverse("api:webhookendpoint-detail", args=[endpoint.pk])).status_code == 204
    assert not Delivery.objects.exists()


def test_the_delivery_log_filters(org, other_org, api):
    wanted = EndpointFactory(organization=org)
    other = EndpointFactory(organization=org)
    pending = DeliveryFactory(organization=org, endpoint=wanted)
    failed = DeliveryFactory(organization=org, endpoint=wanted, status="failed", failed_at="2026-01-01T00:00:00Z",
                             message=MessageFactory(organization=org, event_type="employee.created"))
    DeliveryFactory(organization=org, endpoint=other)

    def ids(**query):
        response = api.get(DELIVERIES, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(endpoint=wanted.pk) == {pending.pk, failed.pk}
    assert ids(status="failed") == {failed.pk}
    assert ids(event_type="employee.created") == {failed.pk}
    assert ids(message=failed.message.public_id) == {failed.pk}
    foreign = EndpointFactory(organization=other_org)
    assert_error(api.get(DELIVERIES, {"endpoint": foreign.pk}), 400, field="endpoint")
    assert_error(api.get(DELIVERIES, {"colour": "red"}), 400, field="colour")


def test_the_endpoint_list_filters(org, api):
    assigned = EndpointFactory(organization=org, event_types=["device.assigned"])
    EndpointFactory(organization=org, event_types=["sync.failed"], enabled=False, disabled_at="2026-01-01T00:00:00Z")
    rows = api.get(ENDPOINTS, {"event_type": "device.assigned", "enabled": "true"}).json()["results"]
    assert [row["id"] for row in rows] == [assigned.pk]


def test_a_delivery_shows_its_message_and_attempts(org, api):
    attempt = AttemptFactory(organization=org)
    body = api.get(reverse("api:webhookdelivery-detail", args=[attempt.delivery.pk])).json()
    assert body["message"]["id"] == attempt.delivery.message.public_id
    assert body["message"]["payload"]["type"] == "device.assigned"
    assert body["attempt_log"] == [{
        "number": 1, "created_at": body["attempt_log"][0]["created_at"], "url": attempt.url, "succeeded": False,
        "status_code": 500, "response_excerpt": "Internal Server Error", "error": "Answered HTTP 500.",
        "duration_ms": 12, "next_attempt_at": None}]
