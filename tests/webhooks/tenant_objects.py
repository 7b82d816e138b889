"""Organization A's webhook endpoint and delivery, for the tenant isolation test (tests/cockpit/
test_tenant_isolation.py): the cockpit's webhook pages and ``/api/v1/webhooks/…`` of organization B must answer 404
for them, and B's lists must not show A's URL, payload or secrets."""

from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory, MessageFactory


def objects(base) -> dict:
    org = base["org"]
    endpoint = EndpointFactory(organization=org, url="https://acme-secret-corp.example.com/hooks",
                               description="Acme Secret Corp HR")
    message = MessageFactory(organization=org, payload={
        "type": "device.assigned", "timestamp": "2026-11-21T12:00:00.000Z",
        "data": {"device": {"serial_number": "C02SECRETA"}, "employee": {"email": "secret-a@acme.test"}}})
    delivery = DeliveryFactory(organization=org, endpoint=endpoint, message=message)
    AttemptFactory(organization=org, delivery=delivery, response_excerpt="Acme Secret Corp says no")
    return {"webhookendpoint": endpoint, "webhookdelivery": delivery}
