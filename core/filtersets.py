"""FilterSets of the core lists; the API and the cockpit lists share them."""

from datetime import UTC, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField, ModelChoiceField

from core.models import AuditEvent, Employee, Group
from core.selectors import employee_choice, lookup_id


def org_groups(request):
    return Group.objects.for_org(request.organization) if request is not None else Group.objects.none()


def org_employees(request):
    return Employee.objects.for_org(request.organization) if request is not None else Employee.objects.none()


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


# --- pickers: an object by id, or by e-mail / serial number -----------------------------------------------------


class PickerInput(forms.TextInput):
    """The text box of an object filter. ``picker.js`` turns it into a combobox that searches the organization's
    ``lookup`` URL (a URL name taking ``org_slug``) by name and submits the picked id under the same name; without
    JavaScript it takes an id, or an e-mail / a serial number, as typed. The FilterSet (``FilterSet.form``) sets
    its ``data-lookup-url`` and, for the object the query string names, ``data-picker-label``."""

    def __init__(self, lookup: str, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.lookup = lookup


class _ReferenceField(ModelChoiceField):
    """One of the queryset's objects, named by its id or by ``text_field`` (case-insensitive); anything else is a
    field error that repeats what was typed."""

    def __init__(self, *args, text_field: str, describe, unknown, **kwargs):
        self.text_field, self.describe, self.unknown = text_field, describe, unknown
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()[:254]
        pk = lookup_id(text)
        found = self.queryset.filter(**({"pk": pk} if pk is not None else {f"{self.text_field}__iexact": text}))
        found = found.first() if text and "\x00" not in text else None  # PostgreSQL refuses NUL in text
        if found is None:
            raise ValidationError(self.unknown % {"value": text.replace("\x00", "")}, code="invalid_choice")
        return found


class PickerFilter(django_filters.ModelChoiceFilter):
    """An object of the organization (``queryset``, a function of the request), given by id (the API's form, which
    the picker submits) or by ``text_field``. ``describe(obj)`` names the picked object as the lookup does."""

    field_class = _ReferenceField

    def __init__(self, *, lookup: str, text_field: str, describe, unknown, **kwargs):
        kwargs.setdefault("widget", PickerInput(lookup))
        super().__init__(text_field=text_field, describe=describe, unknown=unknown, **kwargs)


class EmployeeFilter(PickerFilter):
    """An employee of the organization, by id or e-mail; the cockpit shows a picker searching names and e-mails."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", org_employees)
        kwargs.setdefault("label", _("Employee"))
        super().__init__(lookup="employee_lookup", text_field="email", describe=employee_choice,
                         unknown=_("No employee “%(value)s” in this organization."), **kwargs)


class AnyYesNoSelect(forms.NullBooleanSelect):
    """Any / Yes / No. The empty choice of a yes-no filter means "any" (Django's says "Unknown") and has an empty
    value, so the filter form leaves it out of the URL."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]

    def format_value(self, value):
        return {True: "true", "True": "true", "true": "true", "2": "true",
                False: "false", "False": "false", "false": "false", "3": "false"}.get(value, "")


class BooleanFilter(django_filters.BooleanFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyYesNoSelect)
        super().__init__(*args, **kwargs)


class FilterSet(django_filters.FilterSet):
    """The base of the project's FilterSets: django-filter's, with date/time filters bounded (see above). A list too
    slow for it owns its query instead (``devices.listing``: the FilterSet validates, the list's module writes
    the SQL). Declare date/time filters with this module's ``IsoDateTimeFilter``/``DateTimeFilter``."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": DateTimeFilter},
    }

    @property
    def form(self):
        form = super().form
        if not getattr(form, "pickers_ready", False):
            form.pickers_ready = True
            self._prepare_pickers(form)
        return form

    def _prepare_pickers(self, form) -> None:
        """Points each picker at its organization's lookup URL and names the object the query string picked; the
        form validates once here instead of later (the object is read once, for the filter and its label)."""
        organization = getattr(self.request, "organization", None)
        pickers = {name: field for name, field in form.fields.items() if isinstance(field.widget, PickerInput)}
        if organization is None or not pickers:
            return
        for field in pickers.values():
            field.widget.attrs["data-lookup-url"] = reverse(field.widget.lookup, kwargs={"org_slug": organization.slug})
        if form.is_bound and any(form.data.get(form.add_prefix(name)) for name in pickers):
            form.is_valid()
            for name, field in pickers.items():
                picked = form.cleaned_data.get(name)
                if picked is not None:
                    field.widget.attrs["data-picker-label"] = field.describe(picked)["label"]


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
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact", label=_("E-mail"))
    status = django_filters.ChoiceFilter(choices=Employee.Status.choices, label=_("Status"))
    group = GroupFilter()
    external_id = django_filters.CharFilter(field_name="external_id", label=_("External (HR) id"))
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
    name = django_filters.CharFilter(field_name="name", lookup_expr="iexact", label=_("Name"))
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Search"))

    class Meta:
        model = Group
        fields = []


def _text_box(example: str):
    return forms.TextInput(attrs={"placeholder": example, "spellcheck": "false"})


# The browser's date and time picker; the value (2026-12-05T07:30) is read in UTC, as the log shows its times.
WHEN_BOX = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

# Who acted, as a person reading the log says it (the API takes the same values).
ACTOR_TYPE_CHOICES = [(AuditEvent.ActorType.USER, _("A person")), (AuditEvent.ActorType.TOKEN, _("An API token")),
                      (AuditEvent.ActorType.SYSTEM, _("A system job"))]


class AuditEventFilterSet(FilterSet):
    event = django_filters.CharFilter(field_name="event", label=_("Event"), widget=_text_box("device.assigned"))
    source = django_filters.CharFilter(field_name="source", label=_("Why"), widget=_text_box("manual, api, sync…"))
    actor_type = django_filters.ChoiceFilter(choices=ACTOR_TYPE_CHOICES, label=_("Done by"))
    target_type = django_filters.CharFilter(field_name="target_type", label=_("Object"),
                                            widget=_text_box("devices.device"))
    target_id = django_filters.CharFilter(field_name="target_id", label=_("Object id"))
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("From"), widget=WHEN_BOX)
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label=_("To"), widget=WHEN_BOX)

    class Meta:
        model = AuditEvent
        fields = []
