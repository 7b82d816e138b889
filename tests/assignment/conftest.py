import pytest

from core.models import Organization
from offboarding import services as offboarding_services
from tests.factories import EmployeeFactory, OrganizationFactory


@pytest.fixture
def org(db):
    """Acme, reviewing assignment suggestions (``suggest``): these tests were written for that mode, which an
    organization now chooses (new organizations start with suggestion ``off``)."""
    return OrganizationFactory(slug="acme", name="Acme", assignment_suggestion_mode=Organization.SuggestionMode.SUGGEST)


@pytest.fixture
def leaver(org, actor):
    """Lea, whose offboarding has been started (a draft case): automatic paths leave her alone."""
    employee = EmployeeFactory(organization=org, full_name="Lea Leaving", email="lea@acme.test", username="lleaving")
    offboarding_services.offboarding_start(organization=org, employee=employee, actor=actor)
    return employee
