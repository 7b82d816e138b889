"""REST API of offboarding (DESIGN §10).

* ``POST /api/v1/employees/{id}/offboard/`` and ``POST /api/v1/employees/external/{external_id}/offboard/``
  ``{effective_date?, devices: [{device, action, reassign_to?, wipe?}]}``: the organization's default
  decision covers the devices not named. No date (and no end date ahead): completed now; a future
  date: scheduled. Idempotent: the same request again (or the same ``Idempotency-Key`` header) answers
  the same case with 200 instead of 201.
* ``/api/v1/offboardings/`` list and detail (filters of :class:`OffboardingFilterSet`), ``POST …/cancel/``.
"""

from django.db.models import Prefetch
from django.http import Http404
from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import StrictSerializer, TenantReadOnlyViewSet, TenantViewSetMixin
from core.models import Employee
from devices.api import AssigneeField
from offboarding import services
from offboarding.filtersets import OffboardingFilterSet
from offboarding.models import DeviceAction, Offboarding, OffboardingDevice
from offboarding.selectors import offboarding_list


class DecisionInputSerializer(StrictSerializer):
    device = serializers.CharField(max_length=100, help_text="The device's id or serial number")
    action = serializers.ChoiceField(choices=DeviceAction.choices)
    reassign_to = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=254,
                                        help_text="reassign only: the receiving employee's id or e-mail")
    wipe = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="Default: on for return_to_stock and reassign")


class OffboardRequestSerializer(StrictSerializer):
    effective_date = serializers.DateField(required=False, allow_null=True,
                                           help_text="Today or empty: now (or the employee's end date if ahead)")
    devices = DecisionInputSerializer(many=True, required=False)


class DecisionSerializer(serializers.ModelSerializer):
    device = serializers.SerializerMethodField()
    action = serializers.CharField(read_only=True, help_text="return_to_stock, remove_from_fleet or reassign")
    reassign_to = AssigneeField(read_only=True)
    wipe_status = serializers.SerializerMethodField()
    wipe_error = serializers.SerializerMethodField()

    class Meta:
        model = OffboardingDevice
        fields = ["device", "action", "reassign_to", "wipe", "by_default", "status", "note", "applied_at",
                  "wipe_status", "wipe_error"]

    def get_device(self, decision) -> dict:
        device = decision.device
        return {"id": device.pk, "serial_number": device.serial_number, "name": device.name}

    def get_wipe_status(self, decision) -> str | None:
        wipe = decision.wipe_command
        return wipe.status if wipe else None

    def get_wipe_error(self, decision) -> str:
        wipe = decision.wipe_command
        return wipe.last_error if wipe else ""


class OffboardingSerializer(serializers.ModelSerializer):
    employee = AssigneeField(read_only=True)
    started_by = serializers.CharField(source="started_by_label", read_only=True)
    devices = DecisionSerializer(source="decisions", many=True, read_only=True)

    class Meta:
        model = Offboarding
        fields = ["id", "employee", "status", "effective_date", "origin", "started_by", "created_at",
                  "scheduled_at", "completed_at", "completed_by_label", "cancelled_at", "cancel_reason",
                  "last_error", "devices"]


class CancelSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)


def _with_decisions(queryset):
    return queryset.prefetch_related(Prefetch(
        "decisions", queryset=OffboardingDevice.objects.select_related("device", "reassign_to", "wipe_command")
        .order_by("pk")))


class OffboardingViewSet(TenantReadOnlyViewSet):
    serializer_class = OffboardingSerializer
    filterset_class = OffboardingFilterSet

    def get_queryset(self):
        return _with_decisions(offboarding_list(organization=self.organization))

    @extend_schema(request=CancelSerializer, responses=OffboardingSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def cancel(self, request, pk=None):
        case = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.offboarding_cancel(offboarding=case, actor=self.actor, reason=body.validated_data["reason"])
        return Response(OffboardingSerializer(self.get_queryset().get(pk=case.pk)).data)


class _OffboardView(TenantViewSetMixin, APIView):
    serializer_class = OffboardRequestSerializer

    def employee(self, **kwargs) -> Employee:
        raise NotImplementedError

    @extend_schema(
        request=OffboardRequestSerializer, responses={201: OffboardingSerializer, 200: OffboardingSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description="Optional: the same key answers the same case")],
    )
    def post(self, request, **kwargs):
        employee = self.employee(**kwargs)
        body = OffboardRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        decisions = [dict(item) for item in data.get("devices") or []]
        case, created = services.offboarding_request(
            organization=self.organization, employee=employee, actor=self.actor,
            effective_date=data.get("effective_date"), decisions=decisions,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        fresh = _with_decisions(offboarding_list(organization=self.organization)).get(pk=case.pk)
        return Response(OffboardingSerializer(fresh).data, status=status.HTTP_201_CREATED if created else 200)


class EmployeeOffboardView(_OffboardView):
    def employee(self, pk=None):
        employee = Employee.objects.for_org(self.organization).filter(pk=pk).first()
        if employee is None:
            raise Http404("No such employee")
        return employee


class EmployeeOffboardByExternalIdView(_OffboardView):
    def employee(self, external_id=None):
        employee = Employee.objects.for_org(self.organization).filter(external_id=external_id).first()
        if employee is None:
            raise Http404("No such employee")
        return employee


urlpatterns = [
    path("employees/<int:pk>/offboard/", EmployeeOffboardView.as_view(), name="employee-offboard"),
    re_path(r"^employees/external/(?P<external_id>[^/]{1,150})/offboard/$",
            EmployeeOffboardByExternalIdView.as_view(), name="employee-offboard-external"),
]


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("offboardings", OffboardingViewSet, basename="offboarding")
