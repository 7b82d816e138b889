"""Factories of two-factor authentication's models (picked up by ``tests/factories.py``)."""

import factory

from mfa.models import MfaPolicy
from tests.factories import OrganizationFactory


class MfaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MfaPolicy
        django_get_or_create = ["organization"]  # one per organization

    organization = factory.SubFactory(OrganizationFactory)
    required_for_admins = True
