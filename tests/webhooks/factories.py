"""Factories of the webhook models (picked up by ``tests/factories.py``)."""

import factory
from django.utils import timezone

from core.crypto import encrypt
from tests.factories import SAME_ORGANIZATION, DeviceFactory, TenantFactory
from webhooks.models import Attempt, Delivery, Endpoint, EnrollmentState, Message, RelayState, generate_secret
from webhooks.payloads import timestamp


class EndpointFactory(TenantFactory):
    """An enabled endpoint that wants device assignments, with a secret (``secret``: the plain one, not stored)."""

    class Meta:
        model = Endpoint
        exclude = ["secret"]

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/fleet")
    event_types = factory.LazyFunction(lambda: ["device.assigned", "device.unassigned"])
    secret = factory.LazyFunction(generate_secret)
    secret_encrypted = factory.LazyAttribute(lambda e: encrypt(e.secret))
    created_by_label = "tests"


class MessageFactory(TenantFactory):
    class Meta:
        model = Message

    event_type = "device.assigned"
    public_id = factory.LazyFunction(Message.new_public_id)
    occurred_at = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(lambda m: {"type": m.event_type, "timestamp": timestamp(m.occurred_at),
                                               "data": {}})


class DeliveryFactory(TenantFactory):
    """A delivery waiting for its first try."""

    class Meta:
        model = Delivery

    endpoint = factory.SubFactory(EndpointFactory, organization=SAME_ORGANIZATION)
    message = factory.SubFactory(MessageFactory, organization=SAME_ORGANIZATION)
    next_attempt_at = factory.LazyFunction(timezone.now)


class AttemptFactory(TenantFactory):
    """A failed first try: the endpoint answered 500."""

    class Meta:
        model = Attempt

    delivery = factory.SubFactory(DeliveryFactory, organization=SAME_ORGANIZATION, attempts=1, round_attempts=1)
    number = 1
    url = factory.SelfAttribute("delivery.endpoint.url")
    status_code = 500
    response_excerpt = "Internal Server Error"
    error = "Answered HTTP 500."
    duration_ms = 12


class RelayStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelayState
        django_get_or_create = ["name"]

    name = "audit"


class EnrollmentStateFactory(TenantFactory):
    class Meta:
        model = EnrollmentState

    device = factory.SubFactory(DeviceFactory, organization=SAME_ORGANIZATION)
    enrollment_status = factory.SelfAttribute("device.enrollment_status")
