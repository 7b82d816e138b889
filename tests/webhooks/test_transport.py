"""The guard against server-side request forgery: an endpoint's URL must resolve to public addresses, when it is saved
and again before each request; loopback and private addresses only while a setting allows them (tests, demos),
link-local (cloud metadata) never."""

import pytest
from django.urls import reverse

from core.actors import Actor
from core.models import AuditEvent
from devices import services as device_services
from tests.conftest import assert_error
from webhooks import services, transport
from webhooks.models import Delivery, Endpoint

REFUSED_IN_PRODUCTION = [
    ("10.0.0.1", "a private address"),
    ("192.168.1.20", "a private address"),
    ("172.16.5.4", "a private address"),
    ("100.64.0.1", "a private address"),
    ("fd00::1", "a private address"),
    ("::ffff:10.0.0.1", "a private address"),
    ("127.0.0.1", "a loopback address"),
    ("::1", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "a reserved address"),
    ("240.0.0.1", "a reserved address"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED_IN_PRODUCTION)
def test_non_public_addresses_are_refused(address, why):
    assert transport.address_refusal(address, private_allowed=False) == why


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.20", "fd00::1"])
def test_the_setting_opens_loopback_and_private_addresses(address):
    assert transport.address_refusal(address, private_allowed=True) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0"])
def test_link_local_multicast_and_reserved_stay_refused_whatever_the_setting(address):
    assert transport.address_refusal(address, private_allowed=True) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address):
    assert transport.address_refusal(address, private_allowed=False) is None


@pytest.mark.parametrize(("url", "message"), [
    ("http://10.0.0.1/hooks", "10.0.0.1 is a private address (10.0.0.1)"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]:8080/hooks", "::1 is a loopback address (::1)"),
    ("http://localhost:9000/hooks", "localhost is a loopback address (127.0.0.1)"),
    ("https://no-such-host.invalid/hooks", "The host no-such-host.invalid cannot be resolved."),
    ("ftp://files.example.com/", "Use an http:// or https:// URL."),
    ("https://user:pw@hooks.example.com/", "Put no user name or password in the URL"),
])
def test_the_api_refuses_such_a_url_when_saving_and_saves_nothing(org, api, settings, url, message):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = api.post("/api/v1/webhooks/endpoints/", {"url": url, "event_types": ["device.assigned"]},
                        format="json")
    body = assert_error(response, 400, field="url")
    assert message in body["fields"]["url"][0] or message in body["detail"], body
    assert not Endpoint.objects.exists() and not AuditEvent.objects.filter(event__startswith="webhook").exists()


def test_an_edit_to_a_refused_url_changes_nothing(org, endpoint, api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = api.patch(reverse("api:webhookendpoint-detail", args=[endpoint.pk]),
                         {"url": "http://169.254.169.254/", "description": "changed"}, format="json")
    assert_error(response, 400, field="url")
    endpoint.refresh_from_db()
    assert endpoint.description == "HR system" and endpoint.url.startswith("http://127.0.0.1:")


def test_the_address_is_checked_again_before_each_request(org, endpoint, receiver, relay, settings, employee, device,
                                                          actor, send_now):
    """Saved while allowed (or resolving elsewhere then): refused when sending, and nothing reaches the receiver."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert receiver.received == []


def test_a_ping_to_a_refused_address_says_why(org, endpoint, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    delivery = services.endpoint_ping(endpoint=endpoint, actor=Actor.system("tests"))
    assert delivery.status == "failed" and "webhooks go to public addresses only" in delivery.last_error


def test_a_checked_target_keeps_the_host_name_for_the_request(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    target = transport.check_url("http://localhost:8123/a/b?c=1")
    assert target.addresses[0] in ("127.0.0.1", "::1")
    assert (target.host_header, target.path, target.port) == ("localhost:8123", "/a/b?c=1", 8123)
