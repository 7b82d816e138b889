"""REST API of enrollment: ``POST /api/v1/employees/{id}/invite/`` (DESIGN §10)."""

from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import TenantViewSetMixin
from core.errors import InvalidInput
from core.models import Employee
from core.web import org_object_or_404
from enrollment import services
from enrollment.models import Invitation


class InvitationSerializer(serializers.ModelSerializer):
    employee = serializers.SerializerMethodField()
    # Plain strings in the schema: an enum named after a field as common as "kind" collides with other apps'.
    kind = serializers.CharField(read_only=True, help_text="invitation, reinvitation or fix_instructions")
    reason = serializers.CharField(read_only=True, help_text="manual, api, on_create, auto_unenroll or troubleshooting")

    class Meta:
        model = Invitation
        fields = ["id", "employee", "kind", "reason", "email", "sent_by", "created_at", "used_at"]

    def get_employee(self, invitation) -> dict:
        return {"id": invitation.employee_id, "email": invitation.employee.email,
                "name": invitation.employee.display_name}


class EmployeeInviteView(TenantViewSetMixin, APIView):
    """Send (or resend) the enrollment invitation to one employee."""

    serializer_class = InvitationSerializer

    @extend_schema(request=None, responses={201: InvitationSerializer})
    def post(self, request, pk):
        employee = org_object_or_404(request, Employee, pk=pk)
        if request.data:
            raise InvalidInput(gettext("Inviting takes no body."), field=next(iter(request.data)))
        invitation = services.invitation_send(employee=employee, actor=self.actor,
                                              reason=Invitation.Reason.API)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("employees/<int:pk>/invite/", EmployeeInviteView.as_view(), name="employee-invite"),
]


def register(router) -> None:
    """Add this app's viewsets to the API router."""
