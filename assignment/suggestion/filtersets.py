"""One FilterSet for suggestions: the API (``/api/v1/suggestions/``) and the cockpit review queue use it."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from assignment.suggestion.models import Suggestion
from assignment.suggestion.scoring import KIND_LABELS
from core.filtersets import EmployeeFilter, FilterSet, StableOrderingFilter
from devices.filtersets import DeviceFilter


class SuggestionFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=Suggestion.Status.choices, label=_("Status"))
    min_confidence = django_filters.NumberFilter(field_name="confidence", lookup_expr="gte", label=_("Confidence ≥"))
    evidence = django_filters.ChoiceFilter(
        choices=list(KIND_LABELS.items()), method="filter_evidence", label=_("Evidence")
    )
    device = DeviceFilter()
    employee = EmployeeFilter()
    employee_email = django_filters.CharFilter(field_name="employee__email", lookup_expr="iexact",
                                               label=_("Employee e-mail"))
    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    ordering = StableOrderingFilter(
        fields=(("confidence", "confidence"), ("created_at", "created_at"), ("device__name", "device"),
                ("employee__full_name", "employee"), ("decided_at", "decided_at"), ("id", "id"))
    )

    class Meta:
        model = Suggestion
        fields = []

    def filter_evidence(self, queryset, name, value):
        return queryset.filter(evidence_kinds__contains=f",{value},")

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(device__name__icontains=value) | Q(device__serial_number__icontains=value)
            | Q(employee__email__icontains=value) | Q(employee__full_name__icontains=value)
        )
