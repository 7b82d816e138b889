"""One FilterSet for the offboarding list: ``/api/v1/offboardings/`` and the cockpit page use it."""

import django_filters
from django import forms

from core.filtersets import StableOrderingFilter
from offboarding.models import Offboarding

DATE_BOX = forms.DateInput(attrs={"type": "date"})


class OffboardingFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Offboarding.Status.choices)
    origin = django_filters.ChoiceFilter(choices=Offboarding.Origin.choices, label="Started from")
    employee = django_filters.NumberFilter(field_name="employee_id", label="Employee (id)")
    employee_email = django_filters.CharFilter(field_name="employee__email", lookup_expr="iexact",
                                               label="Employee e-mail")
    effective_after = django_filters.DateFilter(field_name="effective_date", lookup_expr="gte",
                                                label="Effective from", widget=DATE_BOX)
    effective_before = django_filters.DateFilter(field_name="effective_date", lookup_expr="lte",
                                                 label="Effective until", widget=DATE_BOX)
    ordering = StableOrderingFilter(
        fields=(("created_at", "created_at"), ("effective_date", "effective_date"), ("status", "status"),
                ("employee__full_name", "employee"), ("id", "id"))
    )

    class Meta:
        model = Offboarding
        fields = []
