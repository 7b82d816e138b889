"""REST endpoints of outbound webhooks (``register(router)`` adds the viewsets).

* ``/api/v1/webhooks/endpoints/``: list (filters ``enabled``, ``event_type``), create (answers the ``secret``,
  ``whsec_…``, once), ``GET/PUT/PATCH/DELETE …/{id}/`` (``enabled`` false disables it, true enables it again),
  ``POST …/{id}/rotate-secret/`` (a new secret, once; the previous one stays valid 24 hours),
  ``POST …/{id}/test/`` (sends a ``ping`` now and answers its delivery).
* ``/api/v1/webhooks/deliveries/``: the delivery log (filters ``endpoint``, ``status``, ``event_type``, ``message``,
  ``created_after``, ``created_before``), each with its message's payload and its attempts;
  ``POST …/{id}/redeliver/`` sends it again.

Reading needs any token of the organization; changing, a write token.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import StrictModelSerializer, TenantModelViewSet, TenantViewSetMixin
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.filtersets import DeliveryFilterSet, EndpointFilterSet
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.schema import WEBHOOK_EVENT
from webhooks.selectors import delivery_list, endpoint_list


class EndpointSerializer(StrictModelSerializer):
    url = serializers.URLField(max_length=500, help_text="Where the events are POSTed: a public http(s) address")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENT_TYPES)), allow_empty=False,
                                        help_text="The event types it receives")
    enabled = serializers.BooleanField(required=False, help_text="False disables it; true enables it again")
    pending_count = serializers.IntegerField(read_only=True)
    failed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Endpoint
        fields = ["id", "url", "description", "event_types", "enabled", "disabled_at", "disabled_reason",
                  "consecutive_failures", "failing_since", "last_success_at", "last_failure_at",
                  "previous_secret_until", "pending_count", "failed_count", "created_at", "updated_at"]
        read_only_fields = ["id", "disabled_at", "disabled_reason", "consecutive_failures", "failing_since",
                            "last_success_at", "last_failure_at", "previous_secret_until", "created_at",
                            "updated_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret (whsec_…): shown this once")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "created_at", "url", "succeeded", "status_code", "response_excerpt", "error",
                  "duration_ms", "next_attempt_at"]


@extend_schema_field(WEBHOOK_EVENT)
class PayloadField(serializers.JSONField):
    """The body that was signed and sent."""


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The `webhook-id` header (msg_…)")
    type = serializers.CharField(source="event_type")
    occurred_at = serializers.DateTimeField()
    payload = PayloadField()


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.SerializerMethodField()
    message = MessageSerializer(read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True, help_text="Newest first")

    class Meta:
        model = Delivery
        fields = ["id", "endpoint", "message", "status", "attempts", "next_attempt_at", "last_attempt_at",
                  "last_status_code", "last_error", "delivered_at", "failed_at", "created_at", "attempt_log"]

    def get_endpoint(self, delivery) -> dict:
        return {"id": delivery.endpoint_id, "url": delivery.endpoint.url}


class EndpointViewSet(TenantModelViewSet):
    serializer_class = EndpointSerializer
    filterset_class = EndpointFilterSet

    def get_queryset(self):
        return endpoint_list(organization=self.organization)

    def _fresh(self, endpoint, secret: str | None = None, status_code=status.HTTP_200_OK) -> Response:
        data = EndpointSerializer(self.get_queryset().get(pk=endpoint.pk)).data
        if secret is not None:  # the plain secret, on this answer only
            data["secret"] = secret
        return Response(data, status=status_code)

    @extend_schema(responses={201: EndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(organization=self.organization, actor=self.actor,
                                                    **serializer.validated_data)
        return self._fresh(endpoint, secret, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=serializer.instance, actor=self.actor,
                                            **serializer.validated_data)
        return self._fresh(endpoint)

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance, actor=self.actor)

    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret", filterset_class=None, filter_backends=[])
    def rotate_secret(self, request, pk=None):
        """A new signing secret, answered once; the previous one signs too for 24 hours."""
        endpoint, secret = services.endpoint_rotate_secret(endpoint=self.get_object(), actor=self.actor)
        return self._fresh(endpoint, secret)

    @extend_schema(request=None, responses=DeliverySerializer)
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def test(self, request, pk=None):
        """Send a `ping` to the endpoint now; the answer is its delivery, with the attempt's outcome."""
        delivery = services.endpoint_ping(endpoint=self.get_object(), actor=self.actor)
        return Response(DeliverySerializer(delivery_list(organization=self.organization).get(pk=delivery.pk)).data)


class DeliveryViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilterSet

    def get_queryset(self):
        return delivery_list(organization=self.organization)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def redeliver(self, request, pk=None):
        """Send this delivery again (a fresh round of retries); queued, answered 202."""
        delivery = services.delivery_redeliver(delivery=self.get_object(), actor=self.actor)
        return Response(DeliverySerializer(self.get_queryset().get(pk=delivery.pk)).data,
                        status=status.HTTP_202_ACCEPTED)


urlpatterns = []


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("webhooks/endpoints", EndpointViewSet, basename="webhookendpoint")
    router.register("webhooks/deliveries", DeliveryViewSet, basename="webhookdelivery")
