"""FilterSets of the core lists; the API and the cockpit lists share them."""

import django_filters
from django.db.models import Q

from cockpit.models import AuditEvent, Employee, Group


def _org_groups(request):
    return Group.objects.for_org(request.organization) if request is not None else Group.objects.none()


class EmployeeFilterSet(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=Employee.Status.choices)
    group = django_filters.ModelChoiceFilter(queryset=_org_groups, to_field_name="name", field_name="groups")
    external_id = django_filters.CharFilter(field_name="external_id")
    search = django_filters.CharFilter(method="filter_search")
    ordering = django_filters.OrderingFilter(
        fields=(("full_name", "full_name"), ("email", "email"), ("status", "status"), ("created_at", "created_at"),
                ("device_count", "device_count"))
    )

    class Meta:
        model = Employee
        fields = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(email__icontains=value) | Q(full_name__icontains=value) | Q(username__icontains=value)
            | Q(external_id__iexact=value)
        )


class GroupFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="iexact")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Group
        fields = []


class AuditEventFilterSet(django_filters.FilterSet):
    event = django_filters.CharFilter(field_name="event")
    source = django_filters.CharFilter(field_name="source")
    actor_type = django_filters.ChoiceFilter(choices=AuditEvent.ActorType.choices)
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = []
