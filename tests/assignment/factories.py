"""Factories of the assignment app's newer models (``tests/factories.py`` picks them up)."""

import factory
from django.utils import timezone

from assignment.suggestion.models import SuggestionRun
from tests.factories import TenantFactory


class SuggestionRunFactory(TenantFactory):
    """A finished scoring run in ``suggest`` mode that changed nothing."""

    class Meta:
        model = SuggestionRun

    status = SuggestionRun.Status.SUCCEEDED
    mode = "suggest"
    actor_label = "tests"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
