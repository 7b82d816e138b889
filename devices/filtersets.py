"""One FilterSet for the device list: the API (``/api/v1/devices/``) and the cockpit inventory use it.

It validates the query string and draws the inventory's filter form; the list's SQL is ``devices.listing``'s,
which turns the cleaned values into conditions with the same meaning as the filters below (the CSV export runs
these through the ORM; ``tests/devices/test_listing.py`` holds the two to the same rows)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.filtersets import BooleanFilter, EmployeeFilter, FilterSet, GroupFilter, PickerFilter, StableOrderingFilter
from devices.models import AssignmentStatus, AvailabilityStatus, Device, EnrollmentIssue, EnrollmentStatus, Platform
from devices.selectors import device_choice


def org_devices(request):
    return Device.objects.for_org(request.organization) if request is not None else Device.objects.none()


class DeviceFilter(PickerFilter):
    """A device of the organization, by id or serial number; the cockpit shows a picker searching names and
    serial numbers (the other apps' lists filter by device with it)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", org_devices)
        kwargs.setdefault("label", _("Device"))
        super().__init__(lookup="device_lookup", text_field="serial_number", describe=device_choice,
                         unknown=_("No device “%(value)s” in this organization."), **kwargs)


class DeviceFilterSet(FilterSet):
    availability_status = django_filters.ChoiceFilter(choices=AvailabilityStatus.choices, label=_("Availability"))
    assignment_status = django_filters.ChoiceFilter(choices=AssignmentStatus.choices, label=_("Assignment"))
    enrollment_status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices, label=_("Enrollment"))
    enrollment_issue = django_filters.ChoiceFilter(
        choices=EnrollmentIssue.choices, method="filter_enrollment_issue", label=_("Enrollment issue")
    )
    platform = django_filters.ChoiceFilter(choices=Platform.choices, label=_("Platform"))
    # A picker, not a <select>: an organization has thousands of employees (the id, or an e-mail, is checked).
    assignee = EmployeeFilter(label=_("Assignee"))
    assignee_email = django_filters.CharFilter(
        field_name="assignee__email", lookup_expr="iexact", label=_("Assignee e-mail")
    )
    group = GroupFilter()
    serial_number = django_filters.CharFilter(method="filter_serial_number", label=_("Serial number"))
    not_seen_in_fleet = BooleanFilter(
        field_name="fleet_missing_since", lookup_expr="isnull", exclude=True, label=_("Not seen in Fleet")
    )
    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    ordering = StableOrderingFilter(
        fields=(
            ("name", "name"),
            ("serial_number", "serial_number"),
            ("platform", "platform"),
            ("availability_status", "availability_status"),
            ("assignment_status", "assignment_status"),
            ("enrollment_status", "enrollment_status"),
            ("assignee__full_name", "assignee"),
            ("last_seen_at", "last_seen_at"),
            ("created_at", "created_at"),
            ("id", "id"),
        )
    )

    class Meta:
        model = Device
        fields = []

    def filter_enrollment_issue(self, queryset, name, value):
        # Issues are a JSON list; matching the quoted code in its text form works on PostgreSQL and SQLite.
        return queryset.filter(enrollment_issues__icontains=f'"{value}"')

    def filter_serial_number(self, queryset, name, value):
        return queryset.filter(serial_number=value.strip().upper())

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(serial_number__icontains=value)
            | Q(name__icontains=value)
            | Q(assignee__email__icontains=value)
            | Q(assignee__full_name__icontains=value)
        )
