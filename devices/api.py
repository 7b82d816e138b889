"""``/api/v1/devices/``: list, create, read, edit, the status moves, and history (DESIGN §10)."""

import msgspec
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.base import (
    EmployeeRefField,
    GroupNamesField,
    StrictModelSerializer,
    StrictSerializer,
    TenantModelViewSet,
)
from core.api.filters import PAGINATION_PARAMS, StrictFilterBackend
from core.audit import Source
from core.errors import InvalidInput
from core.selectors import device_technicians, employee_by_reference
from devices import api_bulk, rules, services
from devices.filtersets import DeviceFilterSet
from devices.listing import API_COLUMNS, DeviceListing, api_rows, device_filter_spec
from devices.models import Device, DeviceCommand, DeviceHistory, Ownership, Platform, Usage
from devices.selectors import device_history, device_queryset, latest_commands

EMPLOYEE_REF_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}},
}


@extend_schema_field(EMPLOYEE_REF_SCHEMA)
class AssigneeField(EmployeeRefField):
    pass


def _iso(value, zone=None):
    """DRF's datetime format (ISO 8601 in the current time zone, UTC written ``Z``) without its field machinery;
    ``zone``: the current time zone, when the caller looked it up once for several values."""
    if value is None:
        return value
    text = timezone.localtime(value, zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class DeviceSerializer(StrictModelSerializer):
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    ownership = serializers.ChoiceField(choices=Ownership.choices, required=False)
    usage = serializers.ChoiceField(choices=Usage.choices, required=False)
    assignee = AssigneeField(read_only=True)
    groups = GroupNamesField(required=False)
    responsible_technician = serializers.CharField(
        required=False, allow_null=True, max_length=150, source="responsible_technician.username",
        help_text="Shared devices: the login of the technician who answers for it",
    )

    class Meta:
        model = Device
        fields = [
            "id", "serial_number", "name", "platform", "model", "os_version", "ownership", "usage", "notes",
            "availability_status", "assignment_status", "enrollment_status", "enrollment_issues",
            "assignee", "assigned_at", "archived_at", "groups", "responsible_technician", "last_seen_at",
            "fleet_host_id", "fleet_uuid", "version", "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "availability_status", "assignment_status", "enrollment_status", "enrollment_issues",
            "assigned_at", "archived_at", "last_seen_at", "fleet_host_id", "fleet_uuid", "version",
            "created_at", "updated_at",
        ]
        # Serial uniqueness is a per-organization rule the service checks with a clear message.
        extra_kwargs = {"serial_number": {"validators": []}}

    def to_representation(self, device):
        """The same JSON as DRF's generic field walk (a test holds them equal), built directly: on a page
        of devices the generic walk over 23 fields is most of the serialization time."""
        group_names = getattr(device, "group_names", None)
        if group_names is None:
            group_names = [group.name for group in device.groups.all()]
        assignee = device.assignee if device.assignee_id else None
        zone = timezone.get_current_timezone()
        return {
            "id": device.pk,
            "serial_number": device.serial_number,
            "name": device.name,
            "platform": device.platform,
            "model": device.model,
            "os_version": device.os_version,
            "ownership": device.ownership,
            "usage": device.usage,
            "notes": device.notes,
            "availability_status": device.availability_status,
            "assignment_status": device.assignment_status,
            "enrollment_status": device.enrollment_status,
            "enrollment_issues": device.enrollment_issues,
            "assignee": None if assignee is None else {
                "id": assignee.pk, "email": assignee.email, "name": assignee.display_name,
            },
            "assigned_at": _iso(device.assigned_at, zone),
            "archived_at": _iso(device.archived_at, zone),
            "groups": list(group_names),
            "responsible_technician": (
                device.responsible_technician.get_username() if device.responsible_technician_id else None
            ),
            "last_seen_at": _iso(device.last_seen_at, zone),
            "fleet_host_id": device.fleet_host_id,
            "fleet_uuid": device.fleet_uuid,
            "version": device.version,
            "created_at": _iso(device.created_at, zone),
            "updated_at": _iso(device.updated_at, zone),
        }

    def generic_representation(self, device):
        """DRF's own field-by-field output, kept for the test that pins the fast path to it."""
        return super().to_representation(device)


class DeviceCommandSerializer(serializers.ModelSerializer):
    """A wipe or a removal from Fleet: requested → sent → confirmed by a later sync, or failed with Fleet's
    message. ``hand_over_to``: the device is held in stock until the wipe is confirmed, then goes to them."""

    requested_at = serializers.DateTimeField(source="created_at", read_only=True)
    error = serializers.CharField(source="last_error", read_only=True)
    hand_over_to = AssigneeField(read_only=True)

    class Meta:
        model = DeviceCommand
        fields = ["id", "status", "requested_at", "sent_at", "confirmed_at", "failed_at", "error", "attempts",
                  "source", "hand_over_to", "handed_over_at", "hand_over_note"]
        read_only_fields = fields


class DeviceDetailSerializer(DeviceSerializer):
    """One device: the list's fields, with its latest wipe and removal from Fleet (null when never asked)."""

    wipe = DeviceCommandSerializer(read_only=True, allow_null=True)
    fleet_removal = DeviceCommandSerializer(read_only=True, allow_null=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "wipe", "fleet_removal"]
        read_only_fields = [*DeviceSerializer.Meta.read_only_fields, "wipe", "fleet_removal"]

    def to_representation(self, device):
        latest = latest_commands(device=device)
        return super().to_representation(device) | {
            "wipe": _command(latest[DeviceCommand.Kind.WIPE]),
            "fleet_removal": _command(latest[DeviceCommand.Kind.REMOVE]),
        }


def _command(command: DeviceCommand | None) -> dict | None:
    return None if command is None else DeviceCommandSerializer(command).data


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="employee_leaving: the employee has a draft or scheduled offboarding")
    detail = serializers.CharField()
    employee = serializers.IntegerField(required=False)


class DeviceMoveResultSerializer(DeviceDetailSerializer):
    """A move's answer: the device after it, and what the caller should know (the move was done)."""

    warnings = WarningSerializer(many=True, read_only=True)

    class Meta(DeviceDetailSerializer.Meta):
        fields = [*DeviceDetailSerializer.Meta.fields, "warnings"]
        read_only_fields = [*DeviceDetailSerializer.Meta.read_only_fields, "warnings"]


class DeviceMoveSerializer(StrictSerializer):
    """Body of a status move: optional wipe, reason, and the version the caller saw."""

    wipe = serializers.BooleanField(required=False, default=False,
                                    help_text="Send Fleet a wipe (erase all data); tracked as the device's `wipe`")
    reason = serializers.CharField(required=False, default="", max_length=500, allow_blank=True)
    version = serializers.IntegerField(required=False, min_value=1, help_text="Refuse with 409 if the device changed")


class DeviceAssignSerializer(DeviceMoveSerializer):
    employee = serializers.CharField(help_text="The employee's id or e-mail")


class DeviceArchiveSerializer(DeviceMoveSerializer):
    remove_from_fleet = serializers.BooleanField(
        required=False, default=False,
        help_text="Also release it from the MDM: Fleet's delete host (after turning MDM off on Apple devices), "
                  "after its wipe if one is asked; tracked as the device's `fleet_removal`")


class DeviceHistorySerializer(serializers.ModelSerializer):
    assignee_before = AssigneeField(read_only=True)
    assignee_after = AssigneeField(read_only=True)
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = DeviceHistory
        fields = [
            "id", "created_at", "action", "source", "actor", "reason", "availability_before", "availability_after",
            "assignment_before", "assignment_after", "assignee_before", "assignee_after", "wipe_requested",
        ]


def _technician_ref(organization, login: str):
    technician = device_technicians(organization=organization).filter(
        Q(username__iexact=login.strip()) | Q(email__iexact=login.strip())
    ).first()
    if technician is None:
        raise InvalidInput(gettext("No technician “%(login)s” in this organization.") % {
            "login": login}, field="responsible_technician")
    return technician


class ListJSONRenderer(JSONRenderer):
    """DRF's ``JSONRenderer`` (same media type, same bytes) for the device list's page, whose data is plain dicts,
    lists, strings, numbers and None (``devices.listing.api_rows``): msgspec writes them about eight times faster
    than ``json.dumps``, in the same compact form (a test holds the two equal). An indented answer
    (``Accept: application/json; indent=2``) is DRF's own."""

    _encode = msgspec.json.Encoder().encode

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None or self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        # As JSONRenderer: U+2028 and U+2029 escaped, for JavaScript that evaluates JSON.
        return self._encode(data).replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


class DeviceViewSet(TenantModelViewSet):
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return device_queryset(organization=self.organization)

    def filter_queryset(self, queryset):
        """Without a filter parameter the FilterSet has nothing to do (each of its filters passes an empty value
        through; a test holds them to it), so the unfiltered list, and every page of it, does not build and
        validate its form."""
        if set(self.request.query_params) - PAGINATION_PARAMS:
            return super().filter_queryset(queryset)
        for backend in self.filter_backends:
            if not issubclass(backend, StrictFilterBackend):
                queryset = backend().filter_queryset(self.request, queryset, self)
        return queryset

    def list(self, request, *args, **kwargs):
        """The list runs ``devices.listing``'s SQL: the FilterSet validates the query string (a parameter it
        does not know, or an invalid value, is a 400 naming it, as ``StrictFilterBackend`` answers), and the
        page's rows are the listing's plain dicts, the fields of :class:`DeviceSerializer`."""
        unknown = sorted(set(request.query_params) - set(DeviceFilterSet.base_filters) - PAGINATION_PARAMS)
        if unknown:
            raise ValidationError({name: [gettext("Unknown query parameter.")] for name in unknown})
        spec, filterset = device_filter_spec(request.query_params, request=request)
        if spec is None:
            raise translate_validation(filterset.errors)
        listing = DeviceListing(organization_id=self.organization.pk, spec=spec, columns=API_COLUMNS, rows=api_rows)
        response = self.get_paginated_response(self.paginate_queryset(listing))
        if type(request.accepted_renderer) is JSONRenderer:
            request.accepted_renderer = ListJSONRenderer()
        return response

    def _service_kwargs(self, validated: dict) -> dict:
        data = dict(validated)
        if "responsible_technician" in data:
            login = (data.pop("responsible_technician") or {}).get("username")
            data["responsible_technician"] = _technician_ref(self.organization, login) if login else None
        return data

    def perform_create(self, serializer):
        serializer.instance = services.device_create(
            organization=self.organization, actor=self.actor, source=Source.API,
            **self._service_kwargs(serializer.validated_data),
        )

    def perform_update(self, serializer):
        serializer.instance = services.device_update(
            device=serializer.instance, actor=self.actor, **self._service_kwargs(serializer.validated_data)
        )

    @extend_schema(responses=DeviceDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        return Response(DeviceDetailSerializer(self.get_object()).data)

    def _move(self, request, move, serializer_class=DeviceMoveSerializer, **extra):
        device = self.get_object()
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        kwargs = {"reason": data["reason"], "expected_version": data.get("version"), **extra}
        warnings = []
        if "employee" in data:
            kwargs["employee"] = employee_by_reference(organization=self.organization, reference=data["employee"])
            warnings = rules.leaving_warnings_for(organization=self.organization, employee=kwargs["employee"])
        if "remove_from_fleet" in data:
            kwargs["remove_from_fleet"] = data["remove_from_fleet"]
        if move not in (services.device_assign, services.device_restore):
            kwargs["wipe"] = data["wipe"]
        elif data["wipe"]:
            raise InvalidInput(gettext("Wipe is not offered with this action."), field="wipe")
        device = move(device=device, actor=self.actor, source=Source.API, **kwargs)
        moved = device_queryset(organization=self.organization).get(pk=device.pk)
        return Response(DeviceDetailSerializer(moved).data | {"warnings": warnings})

    @extend_schema(request=DeviceAssignSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        return self._move(request, services.device_assign, DeviceAssignSerializer)

    @extend_schema(request=DeviceAssignSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        return self._move(request, services.device_reassign, DeviceAssignSerializer)

    @extend_schema(request=DeviceMoveSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"])
    def unassign(self, request, pk=None):
        return self._move(request, services.device_unassign)

    @extend_schema(request=DeviceMoveSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"], url_path="return-to-stock")
    def return_to_stock(self, request, pk=None):
        return self._move(request, services.device_return_to_stock)

    @extend_schema(request=DeviceArchiveSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._move(request, services.device_archive, DeviceArchiveSerializer)

    @extend_schema(request=DeviceMoveSerializer, responses=DeviceMoveResultSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return self._move(request, services.device_restore)

    @extend_schema(**api_bulk.LIST_SCHEMA)
    @extend_schema(**api_bulk.SCHEMA)
    @action(detail=False, methods=["get", "post"], filterset_class=None, filter_backends=[])
    def bulk(self, request):
        """``POST``: one action on many devices, each through its single move's service (same rules, audit and
        wipe); each device answers ``{device_id, serial, ok, code, detail}``. ``GET``: the bulk jobs."""
        if request.method == "GET":
            return api_bulk.bulk_list(self, request)
        return api_bulk.bulk_post(self, request)

    @extend_schema(responses=DeviceHistorySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, filter_backends=[])
    def history(self, request, pk=None):
        page = self.paginator.paginate_queryset(device_history(device=self.get_object()), request, view=self)
        return self.get_paginated_response(DeviceHistorySerializer(page, many=True).data)
