"""The webhook payloads in the OpenAPI document: one component per event type (``DeviceAssignedEvent`` …), each
``{type, timestamp, data}``, gathered as ``WebhookEvent`` (a ``oneOf`` on ``type``), which is the ``payload`` of
every delivery in ``/api/v1/webhooks/deliveries/``. These serializers only describe: ``webhooks.payloads`` builds
the payloads. The schema stays OpenAPI 3.0 (its top-level ``webhooks`` section needs 3.1), so the events are
documented where the API shows them."""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from core.audit import Source
from devices.models import AssignmentStatus, AvailabilityStatus, EnrollmentStatus, Platform
from webhooks.events import EVENT_TYPES, PING


class WebhookDeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    serial_number = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True)
    platform = serializers.ChoiceField(choices=Platform.choices, allow_blank=True)
    availability_status = serializers.ChoiceField(choices=AvailabilityStatus.choices, allow_null=True,
                                                  help_text="Right after the change, when the change set it")
    assignment_status = serializers.ChoiceField(choices=AssignmentStatus.choices, allow_null=True)
    enrollment_status = serializers.ChoiceField(choices=EnrollmentStatus.choices, allow_null=True)
    enrollment_issues = serializers.ListField(child=serializers.CharField())


class WebhookEmployeeSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null if the organization no longer knows this e-mail")
    email = serializers.EmailField()
    external_id = serializers.CharField(allow_null=True, help_text="The HR system's key")
    full_name = serializers.CharField(allow_blank=True)


class WebhookNewEmployeeSerializer(WebhookEmployeeSerializer):
    username = serializers.CharField(allow_blank=True, required=False)
    domain_name = serializers.CharField(allow_blank=True, required=False)
    status = serializers.CharField(required=False)
    start_date = serializers.DateField(allow_null=True, required=False)


SOURCE = serializers.ChoiceField(choices=Source.choices, allow_blank=True, help_text="Why the change happened")
AUDIT_EVENT = serializers.IntegerField(help_text="The audit log entry (`/api/v1/audit-events/`) it comes from")


class DeviceAssignedData(serializers.Serializer):
    device = WebhookDeviceSerializer()
    employee = WebhookEmployeeSerializer(help_text="The new owner")
    previous_employee = WebhookEmployeeSerializer(allow_null=True, help_text="The previous owner of a reassignment")
    source = SOURCE
    audit_event = AUDIT_EVENT


class DeviceUnassignedData(serializers.Serializer):
    device = WebhookDeviceSerializer()
    employee = WebhookEmployeeSerializer(help_text="The owner it left")
    reason = serializers.ChoiceField(choices=["unassigned", "returned_to_stock", "archived", "reassigned"])
    wipe_requested = serializers.BooleanField()
    source = SOURCE
    audit_event = AUDIT_EVENT


class DeviceEnrollmentChangedData(serializers.Serializer):
    device = WebhookDeviceSerializer(help_text="Its enrollment status now")
    previous_enrollment_status = serializers.CharField(  # the same values as device.enrollment_status
        help_text="The status announced before: " + ", ".join(EnrollmentStatus.values))
    employee = WebhookEmployeeSerializer(allow_null=True, help_text="Its owner, if any")


class DeviceWipeConfirmedData(serializers.Serializer):
    device = WebhookDeviceSerializer()
    employee = WebhookEmployeeSerializer(allow_null=True, help_text="Its owner now, if any")
    source = SOURCE
    audit_event = AUDIT_EVENT


class DeviceWipeFailedData(DeviceWipeConfirmedData):
    error = serializers.CharField(help_text="Fleet's message, or why it was given up")
    attempts = serializers.IntegerField(allow_null=True)


class EmployeeCreatedData(serializers.Serializer):
    employee = WebhookNewEmployeeSerializer()
    source = SOURCE
    audit_event = AUDIT_EVENT


class OffboardedDeviceSerializer(serializers.Serializer):
    device = serializers.DictField(help_text="{id, serial_number, name}")
    action = serializers.ChoiceField(choices=["return_to_stock", "remove_from_fleet", "reassign"])
    wipe = serializers.BooleanField()
    reassign_to = WebhookEmployeeSerializer(allow_null=True)


class OffboardingRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="`/api/v1/offboardings/{id}/`")
    effective_date = serializers.DateField(allow_null=True)


class OffboardingCompletedData(serializers.Serializer):
    offboarding = OffboardingRefSerializer()
    employee = WebhookEmployeeSerializer()
    devices = OffboardedDeviceSerializer(many=True, help_text="The decision applied to each device it held")
    source = SOURCE
    audit_event = AUDIT_EVENT


class SyncRunRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="`/api/v1/sync-runs/{id}/`")
    trigger = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()


class SyncFailedData(serializers.Serializer):
    sync_run = SyncRunRefSerializer()


class PingData(serializers.Serializer):
    endpoint = serializers.DictField(help_text="{id, url}")
    message = serializers.CharField()


DATA = {
    "device.assigned": DeviceAssignedData,
    "device.unassigned": DeviceUnassignedData,
    "device.enrollment_changed": DeviceEnrollmentChangedData,
    "device.wipe_confirmed": DeviceWipeConfirmedData,
    "device.wipe_failed": DeviceWipeFailedData,
    "employee.created": EmployeeCreatedData,
    "offboarding.completed": OffboardingCompletedData,
    "sync.failed": SyncFailedData,
    PING: PingData,
}
assert set(DATA) == {*EVENT_TYPES, PING}, "every event type has its documented payload"


def _envelope(event_type: str, data_class) -> type[serializers.Serializer]:
    name = "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Event"
    description = str(EVENT_TYPES.get(event_type, "The test event of an endpoint's test button."))
    return type(name, (serializers.Serializer,), {
        "__doc__": description,
        "type": serializers.ChoiceField(choices=[event_type]),
        "timestamp": serializers.DateTimeField(help_text="When it happened (UTC)"),
        "data": data_class(),
    })


ENVELOPES = {event_type: _envelope(event_type, data_class) for event_type, data_class in DATA.items()}

WEBHOOK_EVENT = PolymorphicProxySerializer(
    component_name="WebhookEvent", resource_type_field_name="type",
    serializers={event_type: envelope for event_type, envelope in ENVELOPES.items()},
)
