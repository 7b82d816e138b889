"""Factories of the assignment app's newer models (``tests/factories.py`` picks them up)."""

import factory
from django.utils import timezone

from assignment.models import CsvImportRow, PreAssignmentGroup
from assignment.suggestion.models import SuggestionRun
from tests.factories import CsvImportFactory, GroupFactory, PreAssignmentFactory, TenantFactory


class SuggestionRunFactory(TenantFactory):
    """A finished scoring run in ``suggest`` mode that changed nothing."""

    class Meta:
        model = SuggestionRun

    status = SuggestionRun.Status.SUCCEEDED
    mode = "suggest"
    actor_label = "tests"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


class CsvImportRowFactory(factory.django.DjangoModelFactory):
    """A row of an import, parsed and not analysed yet."""

    class Meta:
        model = CsvImportRow

    csv_import = factory.SubFactory(CsvImportFactory)
    line = factory.Sequence(lambda n: n + 2)
    data = factory.LazyAttribute(lambda row: {"cells": [f"C02ROW{row.line}"], "serial": f"C02ROW{row.line}",
                                              "parse_errors": []})


class PreAssignmentGroupFactory(factory.django.DjangoModelFactory):
    """A group of a pre-assignment (``PreAssignment.groups``' table), of the pre-assignment's organization."""

    class Meta:
        model = PreAssignmentGroup

    preassignment = factory.SubFactory(PreAssignmentFactory)
    group = factory.SubFactory(GroupFactory, organization=factory.SelfAttribute("..preassignment.organization"))
