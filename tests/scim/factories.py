"""Factories of SCIM provisioning's models (picked up by ``tests/factories.py``)."""

import factory

from scim.models import ScimGroup, ScimSettings, ScimUser
from tests.factories import SAME_ORGANIZATION, EmployeeFactory, GroupFactory, TenantFactory


class ScimSettingsFactory(TenantFactory):
    class Meta:
        model = ScimSettings
        django_get_or_create = ["organization"]  # one per organization


class ScimUserFactory(TenantFactory):
    """An employee the identity provider wrote: its name parts and work e-mail as SCIM keeps them."""

    class Meta:
        model = ScimUser

    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    full_name_written = factory.SelfAttribute("employee.full_name")
    attributes = factory.LazyAttribute(lambda u: {
        "displayName": u.employee.full_name,
        "emails": [{"value": u.employee.email, "type": "work", "primary": True}],
    })


class ScimGroupFactory(TenantFactory):
    class Meta:
        model = ScimGroup

    group = factory.SubFactory(GroupFactory, organization=SAME_ORGANIZATION)
    external_id = factory.Sequence(lambda n: f"idp-group-{n}")
