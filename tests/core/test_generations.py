"""Cached counts and lists can't go stale: bulk writes through the tenant queryset start a new data generation of
each organization they touch, whoever wrote them (no caller has to remember ``org_data_changed``)."""

import pytest

from core.models import Employee
from core.paging import _generation
from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("write", ["update", "bulk_create", "bulk_update"])
def test_bulk_writes_start_a_new_generation_of_the_organizations_they_touch(org, other_org, write):
    device = DeviceFactory(organization=org)
    DeviceFactory(organization=other_org)
    before, other_before = _generation(org.pk), _generation(other_org.pk)
    if write == "update":
        Device.objects.for_org(org).update(name="renamed")
    elif write == "bulk_create":
        Device.objects.bulk_create([Device(organization=org, name="new-one")])
    else:
        device.name = "renamed"
        Device.objects.bulk_update([device], ["name"])
    assert _generation(org.pk) != before
    assert _generation(other_org.pk) == other_before  # another organization's caches stay warm


def test_the_inventory_count_follows_an_update_nobody_announced(cockpit_client, org):
    DeviceFactory.create_batch(3, organization=org, name="old")
    url = f"/o/{org.slug}/devices/?search=renamed"
    assert cockpit_client.get(url).context["page"].paginator.count == 0  # counted, and cached
    Device.objects.for_org(org).update(name="renamed")
    assert cockpit_client.get(url).context["page"].paginator.count == 3


def test_employees_are_tracked_too(org):
    EmployeeFactory(organization=org)
    before = _generation(org.pk)
    Employee.objects.for_org(org).update(full_name="Renamed")
    assert _generation(org.pk) != before
