"""FilterSets of the core lists; the API and the cockpit lists share them."""

from datetime import UTC, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField, ModelChoiceField

from core.models import AuditEvent, Employee, Group


def org_groups(request):
    return Group.objects.for_org(request.organization) if request is not None else Group.objects.none()


class _GroupNameField(ModelChoiceField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        group = self.queryset.filter(name__iexact=str(value).strip()).first()
        if group is None:
            raise ValidationError(_("Unknown group “%(name)s”.") % {"name": value}, code="invalid_choice")
        return group


# --- date/time filters ----------------------------------------------------------------------------------------
# Real UTC offsets run from -12:00 to +14:00; PostgreSQL refuses a displacement past ±15:59 (a 500 once), and a
# value next to year 1 or 9999 can leave Python's range when turned to UTC (SQLite's adapter does, another 500).

MAX_UTC_OFFSET = timedelta(hours=14)


class _BoundedDateTimeMixin:
    """A date/time whose offset is whole minutes within ±14:00 and that exists in UTC; the value is given in UTC,
    so no database sees an offset it might refuse. Anything else is a field error (a 400, a form error)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        offset = value.utcoffset() or timedelta(0)
        if abs(offset) > MAX_UTC_OFFSET or offset % timedelta(minutes=1):
            raise ValidationError(_("Give a UTC offset from -14:00 to +14:00 in whole minutes."), code="invalid")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(_("This date/time is out of range."), code="invalid") from None


class BoundedDateTimeField(_BoundedDateTimeMixin, forms.DateTimeField):
    pass


class BoundedIsoDateTimeField(_BoundedDateTimeMixin, IsoDateTimeField):
    pass


class DateTimeFilter(django_filters.DateTimeFilter):
    field_class = BoundedDateTimeField


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class FilterSet(django_filters.FilterSet):
    """The base of the project's FilterSets: django-filter's, with date/time filters bounded (see above). A list too
    slow for it owns its query instead (``devices.listing``: the FilterSet validates, the list's module writes
    the SQL). Declare date/time filters with this module's ``IsoDateTimeFilter``/``DateTimeFilter``."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": DateTimeFilter},
    }


class StableOrderingFilter(django_filters.OrderingFilter):
    """``?ordering=`` that ends with the primary key, so rows tied on the sort column keep one place
    across pages (no device shown twice or never while paging by platform)."""

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value if param]
        if not any(field.lstrip("-") in {"id", "pk"} for field in ordering):
            ordering.append("-pk")
        return qs.order_by(*ordering)


class GroupFilter(django_filters.ModelChoiceFilter):
    """A group of the organization, by name, case-insensitive as everywhere else; an unknown name is an error."""

    field_class = _GroupNameField

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", org_groups)
        kwargs.setdefault("to_field_name", "name")
        kwargs.setdefault("field_name", "groups")
        kwargs.setdefault("label", _("Group"))
        super().__init__(**kwargs)


class EmployeeFilterSet(FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=Employee.Status.choices)
    group = GroupFilter()
    external_id = django_filters.CharFilter(field_name="external_id")
    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    ordering = StableOrderingFilter(
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


class GroupFilterSet(FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="iexact")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Group
        fields = []


class AuditEventFilterSet(FilterSet):
    event = django_filters.CharFilter(field_name="event")
    source = django_filters.CharFilter(field_name="source")
    actor_type = django_filters.ChoiceFilter(choices=AuditEvent.ActorType.choices)
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = []
