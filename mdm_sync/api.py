"""``/api/v1/sync-runs/``: the record of every Fleet sync; ``POST`` starts one now.

``status`` is ``running``, ``succeeded``, ``failed``, ``skipped`` (another live run held the lease) or ``abandoned``
(its worker died; ``abandoned_at`` says when the next run found its lease lapsed, ``error`` says why)."""

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.api.base import TenantViewSetMixin
from core.errors import InvalidInput
from mdm_sync.models import SyncRun
from mdm_sync.selectors import sync_run_list
from mdm_sync.services import fleet_sync_queue


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = ["id", "status", "trigger", "actor_label", "started_at", "finished_at", "abandoned_at", "pages",
                  "hosts_listed",
                  "fleet_count", "created", "updated", "unchanged", "not_seen", "reenrolled", "error"]


class SyncRunViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = SyncRunSerializer
    filterset_fields = ["status", "trigger"]

    def get_queryset(self):
        return sync_run_list(organization=self.organization)

    @extend_schema(
        request=None, responses={202: inline_serializer("SyncQueued", {"queued": serializers.BooleanField()})}
    )
    def create(self, request, *args, **kwargs):
        """Queue a sync of this organization now; its run appears in the list when it starts."""
        if request.data:
            raise InvalidInput(gettext("Starting a sync takes no body."), field=next(iter(request.data)))
        fleet_sync_queue(organization=self.organization, trigger=SyncRun.Trigger.API, actor=self.actor)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)
