"""REST API of assignment suggestion: ``/api/v1/suggestions/`` with accept/reject."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from assignment.suggestion import services
from assignment.suggestion.filtersets import SuggestionFilterSet
from assignment.suggestion.models import Suggestion
from assignment.suggestion.selectors import suggestion_queryset
from core.api.base import StrictSerializer, TenantReadOnlyViewSet

urlpatterns = []

DEVICE_REF_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "serial_number": {"type": "string"}},
}
EMPLOYEE_REF_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}},
}
EVIDENCE_SCHEMA = {
    "type": "array",
    "items": {"type": "object", "properties": {
        "kind": {"type": "string"}, "value": {"type": "string"}, "detail": {"type": "string"},
        "employee_id": {"type": "integer"}, "employee": {"type": "string"}, "active": {"type": "boolean"},
        "weight": {"type": "number"},
    }},
}


@extend_schema_field(DEVICE_REF_SCHEMA)
class DeviceRefField(serializers.Field):
    def to_representation(self, device):
        return {"id": device.pk, "name": device.name, "serial_number": device.serial_number}


@extend_schema_field(EMPLOYEE_REF_SCHEMA)
class EmployeeRefField(serializers.Field):
    def to_representation(self, employee):
        return {"id": employee.pk, "email": employee.email, "name": employee.display_name}


@extend_schema_field(EVIDENCE_SCHEMA)
class EvidenceField(serializers.JSONField):
    pass


class SuggestionSerializer(serializers.ModelSerializer):
    device = DeviceRefField(read_only=True)
    employee = EmployeeRefField(read_only=True)
    evidence = EvidenceField(read_only=True, help_text="Every fact, for the suggested employee first, then against")

    class Meta:
        model = Suggestion
        fields = ["id", "device", "employee", "confidence", "evidence", "status", "decided_at", "decided_by",
                  "automatic", "note", "created_at", "updated_at"]
        read_only_fields = fields


class SuggestionAcceptSerializer(StrictSerializer):
    """No body: accepting assigns the device to the suggested employee."""


class SuggestionRejectSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, default="", max_length=255, allow_blank=True)


class SuggestionViewSet(TenantReadOnlyViewSet):
    """Assignment suggestions (DESIGN §7): list and read; ``accept`` assigns the device (source ``suggestion``),
    ``reject`` remembers that this evidence does not name this employee."""

    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilterSet

    def get_queryset(self):
        return suggestion_queryset(organization=self.organization)

    def _answer(self, suggestion):
        return Response(SuggestionSerializer(self.get_queryset().get(pk=suggestion.pk)).data)

    @extend_schema(request=SuggestionAcceptSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def accept(self, request, pk=None):
        suggestion = self.get_object()
        SuggestionAcceptSerializer(data=request.data).is_valid(raise_exception=True)
        return self._answer(services.suggestion_accept(suggestion=suggestion, actor=self.actor))

    @extend_schema(request=SuggestionRejectSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def reject(self, request, pk=None):
        suggestion = self.get_object()
        body = SuggestionRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(services.suggestion_reject(suggestion=suggestion, actor=self.actor,
                                                       reason=body.validated_data["reason"]))


def register(router) -> None:
    """Add the suggestion viewsets to the API router."""
    router.register("suggestions", SuggestionViewSet, basename="suggestion")
