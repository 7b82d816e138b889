"""Factories of single sign-on's models (picked up by ``tests/factories.py``)."""

import factory

from sso.models import SsoConfig
from tests.factories import OrganizationFactory


class SsoConfigFactory(factory.django.DjangoModelFactory):
    """An enabled OpenID Connect configuration (its secret encrypted at rest, like every stored secret)."""

    class Meta:
        model = SsoConfig
        django_get_or_create = ["organization"]  # one per organization
        skip_postgeneration_save = True  # the hook below saves

    organization = factory.SubFactory(OrganizationFactory)
    issuer = "https://idp.example.test"
    client_id = factory.Sequence(lambda n: f"cockpit-{n}")
    enabled = True

    @factory.post_generation
    def client_secret(obj, create, extracted, **kwargs):
        obj.client_secret = extracted or "factory-secret"
        if create:
            obj.save()
