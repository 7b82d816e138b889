"""One FilterSet for pre-assignments: ``/api/v1/pre-assignments/`` and the cockpit list use it."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from assignment.models import PreAssignment
from core.audit import Source
from core.filtersets import EmployeeFilter, FilterSet, StableOrderingFilter


class PreAssignmentFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=PreAssignment.Status.choices, label=_("Status"))
    serial_number = django_filters.CharFilter(method="filter_serial_number", label=_("Serial number"))
    # A picker, not a <select> of every employee (thousands); the id (or an e-mail) is checked, within the organization.
    employee = EmployeeFilter()
    employee_email = django_filters.CharFilter(field_name="employee__email", lookup_expr="iexact",
                                               label=_("Employee e-mail"))
    source = django_filters.ChoiceFilter(field_name="source", label=_("Created from"), choices=[
        (Source.MANUAL, _("Cockpit (by hand)")), (Source.CSV_IMPORT, _("CSV import")), (Source.API, _("API"))])
    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    ordering = StableOrderingFilter(
        fields=(("serial_number", "serial_number"), ("status", "status"), ("employee__email", "employee"),
                ("created_at", "created_at"), ("id", "id"))
    )

    class Meta:
        model = PreAssignment
        fields = []

    def filter_serial_number(self, queryset, name, value):
        return queryset.filter(serial_number=value.strip().upper())

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(serial_number__icontains=value) | Q(employee__email__icontains=value)
            | Q(employee__full_name__icontains=value)
        )
