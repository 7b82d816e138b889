"""Core API resources: employees, groups, audit events, organization settings."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core import services
from core.api.base import (
    GroupNamesField,
    StrictModelSerializer,
    TenantModelViewSet,
    TenantReadOnlyViewSet,
    TenantViewSetMixin,
)
from core.filtersets import AuditEventFilterSet, EmployeeFilterSet, GroupFilterSet
from core.models import AuditEvent, Employee, Group, Organization
from core.selectors import audit_event_list, employee_list, group_list

# --- employees -------------------------------------------------------------------------------


class EmployeeSerializer(StrictModelSerializer):
    groups = GroupNamesField(required=False)
    email = serializers.EmailField(max_length=254)
    device_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Employee
        fields = [
            "id", "email", "full_name", "username", "domain_name", "external_id", "status", "groups",
            "start_date", "end_date", "offboarded_at", "device_count", "created_at", "updated_at", "language",
        ]
        read_only_fields = ["id", "status", "offboarded_at", "device_count", "created_at", "updated_at"]
        extra_kwargs = {
            "external_id": {"validators": [], "allow_null": True, "allow_blank": True},
            "language": {"help_text": "Language of the employee's e-mails and enrollment page (optional); null: "
                                      "the organization's language."},
        }


class EmployeeUpsertSerializer(EmployeeSerializer):
    """PUT by external id: the key is in the URL, so the body must not carry another one."""

    class Meta(EmployeeSerializer.Meta):
        read_only_fields = [*EmployeeSerializer.Meta.read_only_fields, "external_id"]


class EmployeeViewSet(TenantModelViewSet):
    serializer_class = EmployeeSerializer
    filterset_class = EmployeeFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return employee_list(organization=self.organization)

    def perform_create(self, serializer):
        serializer.instance = services.employee_create(
            organization=self.organization, actor=self.actor, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.employee_update(
            employee=serializer.instance, actor=self.actor, **serializer.validated_data
        )

    def _fresh(self, employee):
        return self.get_serializer(self.get_queryset().get(pk=employee.pk)).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(self._fresh(serializer.instance), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self._fresh(serializer.instance))

    @extend_schema(request=EmployeeUpsertSerializer, responses={
        200: OpenApiResponse(EmployeeSerializer, description="Updated"),
        201: OpenApiResponse(EmployeeSerializer, description="Created"),
    })
    @action(detail=False, methods=["put"], url_path=r"external/(?P<external_id>[^/]{1,150})",
            filterset_class=None, filter_backends=[], lookup_field="external_id")
    def upsert_external(self, request, external_id=None):
        """Create or update the employee whose HR key is ``external_id`` (201 when created)."""
        serializer = EmployeeUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        employee, created = services.employee_upsert_by_external_id(
            organization=self.organization, external_id=external_id, actor=self.actor, **serializer.validated_data
        )
        return Response(self._fresh(employee), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- groups ----------------------------------------------------------------------------------


class GroupSerializer(StrictModelSerializer):
    employee_count = serializers.IntegerField(read_only=True)
    device_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Group
        fields = ["id", "name", "description", "employee_count", "device_count", "created_at", "updated_at"]
        read_only_fields = ["id", "employee_count", "device_count", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}


class GroupViewSet(TenantModelViewSet):
    serializer_class = GroupSerializer
    filterset_class = GroupFilterSet

    def get_queryset(self):
        return group_list(organization=self.organization)

    def perform_create(self, serializer):
        group = services.group_create(organization=self.organization, actor=self.actor, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=group.pk)

    def perform_update(self, serializer):
        group = services.group_update(group=serializer.instance, actor=self.actor, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=group.pk)

    def perform_destroy(self, instance):
        services.group_delete(group=instance, actor=self.actor)


# --- audit events ----------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    sentence = serializers.CharField(read_only=True)
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "event", "sentence", "source", "actor", "target", "before", "after",
                  "request_id"]

    def get_actor(self, event) -> dict:
        return {"type": event.actor_type, "label": event.actor_label}

    def get_target(self, event) -> dict:
        return {"type": event.target_type, "id": event.target_id, "label": event.target_label}


class AuditEventViewSet(TenantReadOnlyViewSet):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet

    def get_queryset(self):
        return audit_event_list(organization=self.organization)


# --- settings --------------------------------------------------------------------------------


class OrganizationSettingsSerializer(StrictModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", *services.ORGANIZATION_SETTINGS]
        read_only_fields = ["slug", "name"]


class OrganizationSettingsView(TenantViewSetMixin, APIView):
    """The token's organization settings: suggestion mode, thresholds, auto-unenrollment."""

    serializer_class = OrganizationSettingsSerializer

    @extend_schema(responses=OrganizationSettingsSerializer)
    def get(self, request):
        return Response(OrganizationSettingsSerializer(self.organization).data)

    @extend_schema(request=OrganizationSettingsSerializer, responses=OrganizationSettingsSerializer)
    def patch(self, request):
        serializer = OrganizationSettingsSerializer(self.organization, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_update_settings(
            organization=self.organization, actor=self.actor, **serializer.validated_data
        )
        return Response(OrganizationSettingsSerializer(organization).data)
