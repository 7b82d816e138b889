"""``POST /api/v1/devices/bulk/``: one action on many devices (``devices.bulk``), and ``GET`` the recent ones.

The body names the action, the selection (``ids``, or the list's ``filters``) and the action's ``arguments``. Up to
``DEVICES_BULK_SYNC_MAX_DEVICES`` devices the answer is ``200`` with each device's result; above, ``202`` with the
job doing it (``/api/v1/jobs/{id}/``), whose ``result`` is that same body once it is over."""

from django.http import QueryDict
from django.utils.translation import gettext as _
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.api.base import StrictSerializer
from core.api.filters import PAGINATION_PARAMS
from core.api.jobs import JobSerializer, job_answer
from core.audit import Source
from core.jobs import job_list
from devices import bulk
from devices.filtersets import DeviceFilterSet
from devices.listing import device_filter_spec


class BulkArgumentsSerializer(StrictSerializer):
    employee = serializers.CharField(required=False, help_text="assign: the employee's id or e-mail")
    group = serializers.CharField(required=False, help_text="add_to_group, remove_from_group: the group's id or name")
    wipe = serializers.BooleanField(required=False, help_text=(
        "unassign, return_to_stock, archive: send Fleet a wipe for each device (as the single move's `wipe`; "
        "false when left out)"))
    remove_from_fleet = serializers.BooleanField(required=False, help_text=(
        "archive: also release each device from the MDM (Fleet's delete host, after turning MDM off on Apple "
        "devices), after its wipe if one is asked, as the single archive's `remove_from_fleet`; a device Fleet "
        "does not know is refused (`invalid`). False when left out"))
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)


class BulkRequestSerializer(StrictSerializer):
    action = serializers.CharField(help_text=(
        "assign, unassign, return_to_stock, add_to_group, remove_from_group, archive, send_fix_instructions"))
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False,
                                help_text="The devices' ids (another organization's, or unknown, answer not_found)")
    filters = serializers.DictField(required=False, help_text=(
        "Instead of ids: the device list's query parameters (`/api/v1/devices/`), every device it lists"))
    arguments = BulkArgumentsSerializer(required=False)

    def validate(self, data):
        if ("ids" in data) == ("filters" in data):
            raise ValidationError({"ids": [_("Give either ids or filters.")]})
        return data


class BulkResultSerializer(serializers.Serializer):
    device_id = serializers.IntegerField()
    serial = serializers.CharField(allow_null=True)
    ok = serializers.BooleanField()
    code = serializers.CharField(help_text=(
        "ok: done, unchanged (already in / not in the group), sent; not ok: not_found, illegal_transition, "
        "conflict, invalid, nothing_to_send"))
    detail = serializers.CharField()


class BulkWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    employee = serializers.IntegerField(required=False)


class BulkAnswerSerializer(serializers.Serializer):
    action = serializers.CharField()
    total = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)
    warnings = BulkWarningSerializer(many=True, required=False, help_text=(
        "assign: the employee is leaving (the devices were assigned all the same)"))


def _filters_query(filters: dict) -> QueryDict:
    """The list's query string from a JSON object; a parameter the list does not take is an error, as there."""
    unknown = sorted(set(filters) - set(DeviceFilterSet.base_filters) - PAGINATION_PARAMS)
    if unknown:
        raise ValidationError({f"filters.{name}": ["Unknown query parameter."] for name in unknown})
    query = QueryDict(mutable=True)
    for name, value in filters.items():
        if name in PAGINATION_PARAMS:
            continue
        for item in value if isinstance(value, list) else [value]:
            query.appendlist(name, "true" if item is True else "false" if item is False else str(item))
    return query


SCHEMA = {
    "methods": ["POST"],
    "request": BulkRequestSerializer,
    "responses": {
        200: BulkAnswerSerializer,
        202: OpenApiResponse(JobSerializer, description=(
            "More devices than DEVICES_BULK_SYNC_MAX_DEVICES: a job applies the action. `Location` names the job "
            "(`/api/v1/jobs/{id}/`); once it is over, its `result` is the body this call would have answered.")),
    },
    "parameters": [OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                                    description="The job's URL")],
    "filters": False,
}
LIST_SCHEMA = {"methods": ["GET"], "request": None, "responses": JobSerializer(many=True), "filters": False,
               "description": "The organization's bulk actions that ran as jobs, newest first."}


def bulk_list(view, request) -> Response:
    jobs = job_list(organization=view.organization).filter(kind=bulk.BULK_JOB)
    page = view.paginator.paginate_queryset(jobs, request, view=view)
    return view.paginator.get_paginated_response(JobSerializer(page, many=True).data)


def bulk_post(view, request) -> Response:
    body = BulkRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    organization = view.organization
    action = bulk.bulk_action(data["action"])
    raw = data.get("arguments") or {}
    arguments = bulk.bulk_arguments(organization=organization, action=action, employee=raw.get("employee"),
                                    group=raw.get("group"), wipe=raw.get("wipe"),
                                    remove_from_fleet=raw.get("remove_from_fleet"), reason=raw.get("reason", ""))
    if "ids" in data:
        device_ids = bulk.selection_from_ids(data["ids"])
    else:
        spec, filterset = device_filter_spec(_filters_query(data["filters"]), request=request)
        if spec is None:
            errors = translate_validation(filterset.errors).detail
            raise ValidationError({f"filters.{name}": messages for name, messages in errors.items()})
        device_ids = bulk.selection_from_spec(organization=organization, spec=spec)
    if bulk.runs_as_job(device_ids):
        job = bulk.devices_bulk_start(organization=organization, actor=view.actor, action=action,
                                      device_ids=device_ids, arguments=arguments, source=Source.API)
        job = job_list(organization=organization).get(pk=job.pk)  # it may have run already
        answer, headers = job_answer(job, request)
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)
    answer = bulk.devices_bulk_run(organization=organization, actor=view.actor, action=action, device_ids=device_ids,
                                   arguments=arguments, source=Source.API)
    warnings = bulk.leaving_warnings(organization=organization, arguments=arguments)
    return Response(answer | ({"warnings": warnings} if warnings else {}))


__all__ = ["LIST_SCHEMA", "SCHEMA", "bulk_list", "bulk_post"]
