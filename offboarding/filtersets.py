"""One FilterSet for the offboarding list: ``/api/v1/offboardings/`` and the cockpit page use it."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from core.filtersets import EmployeeFilter, FilterSet, StableOrderingFilter
from offboarding.models import Offboarding

DATE_BOX = forms.DateInput(attrs={"type": "date"})


class OffboardingFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=Offboarding.Status.choices, label=_("Status"))
    origin = django_filters.ChoiceFilter(choices=Offboarding.Origin.choices, label=_("Started from"))
    employee = EmployeeFilter()
    employee_email = django_filters.CharFilter(field_name="employee__email", lookup_expr="iexact",
                                               label=_("Employee e-mail"))
    effective_after = django_filters.DateFilter(field_name="effective_date", lookup_expr="gte",
                                                label=_("Effective from"), widget=DATE_BOX)
    effective_before = django_filters.DateFilter(field_name="effective_date", lookup_expr="lte",
                                                 label=_("Effective until"), widget=DATE_BOX)
    ordering = StableOrderingFilter(
        fields=(("created_at", "created_at"), ("effective_date", "effective_date"), ("status", "status"),
                ("employee__full_name", "employee"), ("id", "id"))
    )

    class Meta:
        model = Offboarding
        fields = []
