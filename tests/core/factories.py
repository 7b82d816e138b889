"""Factories of the core's models kept beside its tests (``tests/factories.py`` picks them up)."""

import factory
from django.utils import timezone

from core.jobs import Job
from core.models import UserPreference


class JobFactory(factory.django.DjangoModelFactory):
    """A job that finished well, started by the system (its kind need not be registered to be read)."""

    class Meta:
        model = Job

    organization = factory.SubFactory("tests.factories.OrganizationFactory")
    kind = "tests.example"
    status = Job.Status.SUCCEEDED
    progress_done = 10
    progress_total = 10
    progress_phase = "Done"
    result = factory.LazyFunction(lambda: {"done": 10})
    created_by = "System (tests)"
    created_by_type = "system"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.SelfAttribute("started_at")


class UserPreferenceFactory(factory.django.DjangoModelFactory):
    """A cockpit user who reads the cockpit in French."""

    class Meta:
        model = UserPreference

    user = factory.SubFactory("tests.factories.UserFactory")
    language = "fr"
