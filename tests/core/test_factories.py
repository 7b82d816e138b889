"""Every concrete model of the project's apps has a factory in ``tests/factories.py`` that builds a valid object
whose related tenant objects belong to its organization."""

import pytest
from django.apps import apps
from django.db import models

from core.models import Organization
from tests.factories import FACTORIES, OrganizationFactory

PROJECT_APPS = {"core", "devices", "mdm_sync", "enrollment", "assignment", "offboarding", "webhooks", "scim", "sso",
                "mfa", "cockpit"}
PROJECT_MODELS = sorted(
    (model for model in apps.get_models() if model._meta.app_config.name in PROJECT_APPS),
    key=lambda model: model._meta.label,
)


def test_the_project_apps_have_models():
    assert len(PROJECT_MODELS) > 20


@pytest.mark.django_db
@pytest.mark.parametrize("model", PROJECT_MODELS, ids=lambda model: model._meta.label)
def test_factory_builds_a_valid_object_within_one_organization(model):
    factory = FACTORIES.get(model)
    assert factory is not None, f"tests/factories.py has no factory for {model._meta.label}"
    tenant_owned = any(field.name == "organization" for field in model._meta.concrete_fields)
    acme = OrganizationFactory() if tenant_owned else None
    obj = factory(organization=acme) if tenant_owned else factory()
    obj.full_clean()
    assert model.objects.filter(pk=obj.pk).exists()
    # One organization for the object and everything it refers to, however deep; none made on the side.
    reached = dict(_organizations_of(obj))
    if tenant_owned:
        assert set(reached.values()) == {acme.pk}, reached
    assert Organization.objects.count() <= 1


def _organizations_of(obj, path="", seen=None):
    """``(path, organization id)`` of ``obj`` and every object its foreign keys reach."""
    seen = set() if seen is None else seen
    if (type(obj), obj.pk) in seen:
        return
    seen.add((type(obj), obj.pk))
    if getattr(obj, "organization_id", None) is not None:
        yield path or "self", obj.organization_id
    for field in obj._meta.concrete_fields:
        if isinstance(field, models.ForeignKey) and field.name != "organization":
            related = getattr(obj, field.name)
            if related is not None:
                yield from _organizations_of(related, f"{path}.{field.name}".lstrip("."), seen)
