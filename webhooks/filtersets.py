"""FilterSets of the endpoints and the delivery log; the API and the cockpit lists share them."""

import django_filters
from django.utils.translation import gettext_lazy as _

from core.filtersets import BooleanFilter, FilterSet, IsoDateTimeFilter
from webhooks.events import EVENT_TYPES, PING
from webhooks.models import Delivery, Endpoint

EVENT_TYPE_CHOICES = [(event_type, event_type) for event_type in [*EVENT_TYPES, PING]]


def org_endpoints(request):
    return Endpoint.objects.for_org(request.organization) if request is not None else Endpoint.objects.none()


class EndpointFilterSet(FilterSet):
    enabled = BooleanFilter(label=_("Enabled"))
    event_type = django_filters.ChoiceFilter(choices=EVENT_TYPE_CHOICES, method="filter_event_type",
                                             label=_("Event type"))

    class Meta:
        model = Endpoint
        fields = []

    def filter_event_type(self, queryset, name, value):
        # JSON containment is not on SQLite: the few endpoints of an organization are filtered here.
        return queryset.filter(pk__in=[endpoint.pk for endpoint in queryset if value in endpoint.event_types])


class DeliveryFilterSet(FilterSet):
    endpoint = django_filters.ModelChoiceFilter(queryset=org_endpoints, label=_("Endpoint"))
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices, label=_("Status"))
    event_type = django_filters.ChoiceFilter(field_name="message__event_type", choices=EVENT_TYPE_CHOICES,
                                             label=_("Event type"))
    message = django_filters.CharFilter(field_name="message__public_id", label=_("Message id (msg_…)"))
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("Created after"))
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label=_("Created before"))

    class Meta:
        model = Delivery
        fields = []
