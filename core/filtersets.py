"""FilterSets of the core lists; the API and the cockpit lists share them."""

import copy

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import ModelChoiceField
from django_filters.filters import Filter, FilterMethod, QuerySetRequestMixin

from core.models import AuditEvent, Employee, Group


def org_groups(request):
    return Group.objects.for_org(request.organization) if request is not None else Group.objects.none()


class _GroupNameField(ModelChoiceField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        group = self.queryset.filter(name__iexact=str(value).strip()).first()
        if group is None:
            raise ValidationError(f"Unknown group “{value}”.", code="invalid_choice")
        return group


class _FieldsOfOneForm(dict):
    """``base_fields`` of a form class made for one FilterSet instance (django-filter builds a new class, with
    new fields, for each instance): the first form of the class takes those fields as they are instead of
    deep-copying them (Django's ``BaseForm.__init__``); any further form of the class gets copies as usual."""

    handed_out = False

    def __deepcopy__(self, memo):
        if self.handed_out:
            return {name: copy.deepcopy(field, memo) for name, field in self.items()}
        self.handed_out = True
        return dict(self)


_SHARED_FIELDS: dict = {}


def _shared_fields(filterset_class, model) -> dict:
    """Form fields of ``filterset_class``'s filters that are the same for every request, built once."""
    key = (filterset_class, model)
    fields = _SHARED_FIELDS.get(key)
    if fields is None:
        fields = {}
        for name, base in filterset_class.base_filters.items():
            if isinstance(base, QuerySetRequestMixin) or type(base).field is not Filter.field:
                continue
            filter_ = copy.deepcopy(base)
            filter_.__dict__.pop("_field", None)
            filter_.model = model  # a label may be derived from the model's field
            fields[name] = filter_.field
        _SHARED_FIELDS[key] = fields
    return fields


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet without its per-request deep copies (a third of a filtered list's Python time
    before the SQL, measured in benchmarks/): the same filters, fields and behaviour.

    * Each instance copies the class's filters one level deep instead of ``copy.deepcopy``: what an instance
      changes on a filter is its own (``model``, ``parent``, ``extra["queryset"]``, the cached ``_field``, the
      ``FilterMethod`` bound to it), the rest (choices, ordering maps, widgets, which every form field copies
      when it is built) is only read. ``tests/cockpit/test_filtersets.py`` holds this to the deep copy.
    * The form takes the fields its filters just built rather than deep-copying them again.
    * The form fields of filters that depend on nothing but their declaration (django-filter's own ``field``,
      no request-dependent queryset: choices, text, booleans, dates, the ordering) are built once per
      FilterSet class and model and shared by every instance: validating and rendering only read a form
      field (the tests hold them unchanged through both); fields with a queryset are built per instance.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        base_filters = self.base_filters
        self.base_filters = {}  # BaseFilterSet.__init__ deep-copies this; the copies are made below
        try:
            super().__init__(data, queryset, request=request, prefix=prefix)
        finally:
            del self.base_filters  # the class attribute again
        model = self.queryset.model
        self.filters = {}
        for name, base in base_filters.items():
            filter_ = copy.copy(base)
            filter_.extra = dict(base.extra)
            filter_.__dict__.pop("_field", None)
            if isinstance(base.__dict__.get("filter"), FilterMethod):
                filter_.filter = FilterMethod(filter_)
            filter_.model = model
            filter_.parent = self
            self.filters[name] = filter_
        for name, field in _shared_fields(type(self), model).items():
            self.filters[name]._field = field

    #: None, or the names of the only filters the form holds: the API names the parameters it got
    #: (``core.api.filters.StrictFilterBackend``), so a request filtering on two of twelve filters builds
    #: and cleans two fields. The others would clean to an empty value, which every filter passes through
    #: (held by tests), and an API form is never shown.
    form_fields = None

    def get_form_class(self):
        fields = {
            name: filter_.field for name, filter_ in self.filters.items()
            if self.form_fields is None or name in self.form_fields
        }
        form_class = type(f"{type(self).__name__}Form", (self._meta.form,), fields)  # as django-filter's
        form_class.base_fields = _FieldsOfOneForm(form_class.base_fields)
        return form_class


class StableOrderingFilter(django_filters.OrderingFilter):
    """``?ordering=`` that ends with the primary key, so rows tied on the sort column keep one place
    across pages (no device shown twice or never while paging by platform)."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value and not any(str(f).lstrip("-") in {"id", "pk"} for f in qs.query.order_by):
            qs = qs.order_by(*qs.query.order_by, "-pk")
        return qs


class GroupFilter(django_filters.ModelChoiceFilter):
    """A group of the organization, by name, case-insensitive as everywhere else; an unknown name is an error."""

    field_class = _GroupNameField

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", org_groups)
        kwargs.setdefault("to_field_name", "name")
        kwargs.setdefault("field_name", "groups")
        kwargs.setdefault("label", "Group")
        super().__init__(**kwargs)


class EmployeeFilterSet(FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=Employee.Status.choices)
    group = GroupFilter()
    external_id = django_filters.CharFilter(field_name="external_id")
    search = django_filters.CharFilter(method="filter_search", label="Search")
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
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = []
