"""Every payload the cockpit sends is documented in the OpenAPI schema: each event type has its component, and the
payloads real changes make validate against it, with no field the schema does not name."""

import copy

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from core.actors import Actor
from core.services import employee_create
from devices import commands, handover
from devices import services as device_services
from devices.models import DeviceCommand
from mdm_sync.models import SyncRun
from offboarding import services as offboarding_services
from tests.conftest import sync_now
from tests.factories import DeviceFactory, EmployeeFactory
from webhooks import services
from webhooks.enrollment import enrollment_check
from webhooks.events import EVENT_TYPES, PING
from webhooks.models import Message


@pytest.fixture(scope="module")
def components():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return _strict(_json_schema(schema["components"]["schemas"]))


def _json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
        if "allOf" in node or "$ref" in node:
            node = {"anyOf": [{key: value for key, value in node.items() if key != "anyOf"}, {"type": "null"}]}
    return node


def _strict(schemas):
    """Objects with named properties take no other key: a payload field missing from the schema fails."""
    schemas = copy.deepcopy(schemas)
    for schema in schemas.values():
        _close(schema)
    return schemas


def _close(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for item in node:
            _close(item)


def validate(components, payload):
    jsonschema.validate(payload, {"$ref": "#/components/schemas/WebhookEvent", "components": {"schemas": components}},
                        cls=jsonschema.Draft202012Validator)


def test_each_event_type_has_its_component(components):
    mapping = components["WebhookEvent"]["discriminator"]["mapping"]
    assert set(mapping) == {*EVENT_TYPES, PING}
    for event_type, ref in mapping.items():
        component = components[ref.rsplit("/", 1)[-1]]
        assert set(component["required"]) == {"type", "timestamp", "data"}, event_type


def test_the_payloads_of_real_changes_match_their_schema(components, connected, sim, endpoint, relay, actor):
    system = Actor.system("tests")
    sync_now(connected, sim)  # devices from Fleet, first seen
    ada = EmployeeFactory(organization=connected, email="ada@acme.test", external_id="HR-1")
    bob = employee_create(organization=connected, actor=actor, email="bob@acme.test", full_name="Bob")
    device = DeviceFactory(organization=connected, fleet_host_id=999_001)
    device_services.device_assign(device=device, employee=ada, actor=actor)
    device_services.device_reassign(device=device, employee=bob, actor=actor)
    other = DeviceFactory(organization=connected)
    device_services.device_assign(device=other, employee=ada, actor=actor)
    offboarding_services.offboarding_request(organization=connected, employee=ada, actor=actor, effective_date=None,
                                             decisions=[{"device": str(other.pk), "action": "return_to_stock",
                                                         "wipe": True}])
    wipe = DeviceCommand.objects.get(device=other)
    commands.command_failed(wipe, actor=system, error="Host is offline")
    commands.command_request(device=device, kind=DeviceCommand.Kind.WIPE, actor=actor, source="manual")
    confirmed = DeviceCommand.objects.get(device=device)
    commands.command_sent(confirmed, actor=system)
    handover.command_confirm(command=confirmed, actor=system)
    relay()
    from devices.models import Device

    Device.objects.filter(pk=device.pk).update(enrollment_status="unenrolled")
    enrollment_check(organization_id=connected.pk)
    sim.faults.status_on_page = {0: 500}
    assert sync_now(connected, sim).status == SyncRun.Status.FAILED
    relay()
    services.endpoint_ping(endpoint=endpoint, actor=actor)

    payloads = list(Message.objects.values_list("payload", flat=True))
    assert {payload["type"] for payload in payloads} == {*EVENT_TYPES, PING}
    for payload in payloads:
        validate(components, payload)


def test_an_undocumented_field_would_fail(components):
    payload = {"type": "sync.failed", "timestamp": "2026-11-21T12:00:00.000Z", "data": {"sync_run": {
        "id": 1, "trigger": "schedule", "started_at": "2026-11-21T12:00:00.000Z", "finished_at": None,
        "error": "Fleet is down"}}}
    validate(components, payload)
    payload["data"]["surprise"] = True
    with pytest.raises(jsonschema.ValidationError):
        validate(components, payload)
