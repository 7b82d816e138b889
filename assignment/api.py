"""REST API of assignment (DESIGN §10): ``/api/v1/pre-assignments/`` (list, create, read, edit, cancel, settle) and
``POST .../import/`` here; ``/api/v1/suggestions/`` in ``assignment.suggestion.api``. ``register(router)`` adds the
app's viewsets, ``urlpatterns`` its other routes."""

from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from assignment import services
from assignment.csv_import import FileTooLarge
from assignment.filtersets import PreAssignmentFilterSet
from assignment.models import CsvImport, PreAssignment
from assignment.selectors import (
    MAX_ROWS_IN_ANSWER,
    csv_import_answer,
    csv_import_list,
    csv_import_rejection,
    pre_assignment_list,
)
from assignment.services import SettleDecision
from assignment.suggestion import api as suggestion_api
from assignment.views import LimitedUploadHandler, declared_too_large
from core.api.base import (
    EmployeeRefField,
    GroupNamesField,
    StrictModelSerializer,
    StrictSerializer,
    TenantModelViewSet,
)
from core.api.jobs import JobSerializer, job_answer
from core.audit import Source
from core.jobs import job_list
from core.selectors import employee_by_reference
from devices import rules
from devices.api import EMPLOYEE_REF_SCHEMA
from devices.models import Ownership


class EmployeeInOutField(EmployeeRefField):
    """Written as the employee's id or e-mail; read as ``{id, email, name}``."""

    def to_internal_value(self, data):
        if not isinstance(data, (str, int)) or isinstance(data, bool) or not str(data).strip():
            raise serializers.ValidationError(gettext("Give the employee's id or e-mail."))
        return str(data)


class EmployeeInOutFieldSchema(OpenApiSerializerFieldExtension):
    target_class = EmployeeInOutField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {"type": "string", "minLength": 1, "description": "The employee's id or e-mail"}
        return EMPLOYEE_REF_SCHEMA


class PreAssignmentSerializer(StrictModelSerializer):
    employee = EmployeeInOutField()
    groups = GroupNamesField(required=False)
    ownership = serializers.ChoiceField(choices=Ownership.choices, required=False)
    device = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                help_text="The device's id, once one has this serial (else null)")

    class Meta:
        model = PreAssignment
        fields = [
            "id", "serial_number", "employee", "groups", "domain_name", "ownership", "status",
            "source", "device", "note", "created_by", "applied_at", "conflict_at", "cancelled_at", "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "source", "device", "note", "created_by", "applied_at", "conflict_at",
                            "cancelled_at", "created_at", "updated_at"]
        extra_kwargs = {"domain_name": {"required": False, "allow_blank": True}}


class PreAssignmentWarningSerializer(serializers.Serializer):
    """Something the caller should know; what was asked was done (a warning, never a refusal)."""

    code = serializers.CharField(help_text="employee_leaving: the employee has a draft or scheduled offboarding")
    detail = serializers.CharField(help_text="A sentence naming the employee and why")
    employee = serializers.IntegerField(required=False, help_text="The employee's id")


class ImportWarningSerializer(PreAssignmentWarningSerializer):
    row = serializers.IntegerField(help_text="The file's line")
    serial_number = serializers.CharField()


class PreAssignmentResultSerializer(PreAssignmentSerializer):
    """A create's or an edit's answer: the pre-assignment, and what the caller should know (it was saved)."""

    warnings = PreAssignmentWarningSerializer(many=True, read_only=True)

    class Meta(PreAssignmentSerializer.Meta):
        fields = [*PreAssignmentSerializer.Meta.fields, "warnings"]
        read_only_fields = [*PreAssignmentSerializer.Meta.read_only_fields, "warnings"]


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    serial_number = serializers.CharField()
    action = serializers.CharField(allow_null=True, help_text="create, update, assign_now, conflict, unchanged, "
                                                              "error, unassign or return_to_stock")
    errors = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField(), help_text="Committed anyway: read them first")
    new_employee = serializers.BooleanField()


class ImportAnswerSerializer(serializers.Serializer):
    """The preview (``dry_run``) or the committed import: each row's action, errors, notes and warnings."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CsvImport.Kind.choices)
    status = serializers.ChoiceField(choices=CsvImport.Status.choices)
    row_count = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per action, and new_employees")
    ignored_columns = serializers.ListField(child=serializers.CharField())
    encoding = serializers.CharField()
    rows = ImportRowSerializer(many=True, help_text=f"The first {MAX_ROWS_IN_ANSWER} rows")
    rows_truncated = serializers.BooleanField()
    warnings = ImportWarningSerializer(many=True, help_text="Rows naming an employee whose offboarding is under way "
                                                            "(committed all the same)")
    result = serializers.DictField(child=serializers.IntegerField(), allow_null=True,
                                   help_text="What the commit did (null for a dry run)")


class CsvImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = CsvImport
        fields = ["id", "kind", "status", "source", "filename", "row_count", "counts", "ignored_columns", "created_by",
                  "created_at", "committed_at", "committed_by", "result"]


class SettleSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=SettleDecision.choices)
    wipe = serializers.BooleanField(required=False, default=False)


class ImportSerializer(StrictSerializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)
    skip_errors = serializers.BooleanField(required=False, default=False)
    kind = serializers.ChoiceField(choices=CsvImport.Kind.choices, required=False, default=CsvImport.Kind.ASSIGN)


class PreAssignmentViewSet(TenantModelViewSet):
    serializer_class = PreAssignmentSerializer
    filterset_class = PreAssignmentFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return pre_assignment_list(organization=self.organization)

    def _fields(self, validated: dict) -> dict:
        data = dict(validated)
        if "employee" in data:
            data["employee"] = employee_by_reference(organization=self.organization, reference=data["employee"])
        return data

    def _answer(self, pa, code=status.HTTP_200_OK):
        return Response(PreAssignmentSerializer(self.get_queryset().get(pk=pa.pk)).data, status=code)

    def _answer_with_warnings(self, pa, code=status.HTTP_200_OK):
        """The pre-assignment and ``warnings``: e.g. its employee is leaving (saved all the same)."""
        pa = self.get_queryset().get(pk=pa.pk)
        warnings = rules.leaving_warnings_for(organization=self.organization, employee=pa.employee)
        return Response(PreAssignmentSerializer(pa).data | {"warnings": warnings}, status=code)

    @extend_schema(responses={201: PreAssignmentResultSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        pa = services.pre_assignment_create(organization=self.organization, actor=self.actor, source=Source.API,
                                            **self._fields(body.validated_data))
        return self._answer_with_warnings(pa, status.HTTP_201_CREATED)

    @extend_schema(responses=PreAssignmentResultSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        body = self.get_serializer(self.get_object(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        pa = services.pre_assignment_update(pre_assignment=body.instance, actor=self.actor,
                                            **self._fields(body.validated_data))
        return self._answer_with_warnings(pa)

    @extend_schema(request=None, responses=PreAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        pa = self.get_object()
        StrictSerializer(data=request.data).is_valid(raise_exception=True)
        return self._answer(services.pre_assignment_cancel(pre_assignment=pa, actor=self.actor))

    @extend_schema(request=SettleSerializer, responses=PreAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        pa = self.get_object()
        body = SettleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pa = services.pre_assignment_settle(pre_assignment=pa, actor=self.actor, **body.validated_data)
        return self._answer(pa)

    @extend_schema(methods=["GET"], request=None, responses=CsvImportSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"], request={"multipart/form-data": ImportSerializer}, filters=False,
        responses={200: OpenApiResponse(ImportAnswerSerializer, description="dry_run: the preview"),
                   201: OpenApiResponse(ImportAnswerSerializer, description="Committed"),
                   202: OpenApiResponse(JobSerializer, description=(
                       "More rows than ASSIGNMENT_CSV_SYNC_MAX_ROWS: the file is stored and a job analyses it and, "
                       "unless dry_run, commits it. `Location` names the job (`/api/v1/jobs/{id}/`); once it is "
                       "over, its `result` is the body this call would have answered (200, 201, or the 400 error "
                       "body listing the rows in error)."))},
        parameters=[OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                                     description="The job's URL")],
    )
    @action(detail=False, methods=["get", "post"], url_path="import", url_name="import",
            parser_classes=[MultiPartParser], filterset_class=None, filter_backends=[])
    def import_csv(self, request):
        """``POST``: upload a pre-assignment CSV (``file``): ``dry_run`` answers the preview, otherwise it is
        committed in one transaction (or nothing is, and the rows in error are in ``fields.file``). A row naming
        an employee whose offboarding is under way is a ``warnings`` entry, not an error: it is committed.
        A file of more than ``ASSIGNMENT_CSV_SYNC_MAX_ROWS`` rows answers ``202`` with the job doing this.
        ``GET``: the organization's recent imports."""
        if request.method == "GET":
            page = self.paginator.paginate_queryset(csv_import_list(organization=self.organization), request, self)
            return self.paginator.get_paginated_response(CsvImportSerializer(page, many=True).data)
        if declared_too_large(request):
            raise FileTooLarge(services.size_message())
        request._request.upload_handlers.insert(0, LimitedUploadHandler(request._request, services.csv_max_bytes()))
        body = ImportSerializer(data=request.data)
        if getattr(request._request, "upload_too_large", False):
            raise FileTooLarge(services.size_message())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        submission = services.csv_import_submit(
            organization=self.organization, actor=self.actor, data=data["file"].read(), filename=data["file"].name,
            kind=data["kind"], source=Source.API, dry_run=data["dry_run"], skip_errors=data["skip_errors"],
        )
        if submission.job is not None:
            job = job_list(organization=self.organization).get(pk=submission.job.pk)  # it may have run already
            answer, headers = job_answer(job, request)
            return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)
        if submission.rejected:
            raise serializers.ValidationError(csv_import_rejection(submission.rejected))
        if data["dry_run"]:
            return Response(csv_import_answer(submission.record))
        return Response(csv_import_answer(submission.record, result=submission.result), status=status.HTTP_201_CREATED)


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("pre-assignments", PreAssignmentViewSet, basename="preassignment")
    suggestion_api.register(router)


urlpatterns = [*suggestion_api.urlpatterns]
