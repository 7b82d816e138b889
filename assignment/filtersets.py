"""One FilterSet for pre-assignments: ``/api/v1/pre-assignments/`` and the cockpit list use it."""

import django_filters
from django import forms
from django.db.models import Q

from assignment.models import PreAssignment
from core.audit import Source
from core.filtersets import StableOrderingFilter
from core.models import Employee


def _org_employees(request):
    return Employee.objects.for_org(request.organization) if request is not None else Employee.objects.none()


class PreAssignmentFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PreAssignment.Status.choices)
    serial_number = django_filters.CharFilter(method="filter_serial_number", label="Serial number")
    # A text box, not a <select> of every employee (thousands); the id is still checked, within the organization.
    employee = django_filters.ModelChoiceFilter(queryset=_org_employees, label="Employee (id)",
                                                widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    employee_email = django_filters.CharFilter(field_name="employee__email", lookup_expr="iexact",
                                               label="Employee e-mail")
    source = django_filters.ChoiceFilter(field_name="source", label="Created from", choices=[
        (Source.MANUAL, "Cockpit (by hand)"), (Source.CSV_IMPORT, "CSV import"), (Source.API, "API")])
    search = django_filters.CharFilter(method="filter_search", label="Search")
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
