"""The core FilterSets and filters: django-filter's own, with a stable ordering and groups named case-insensitively."""

import pytest
from django.test import RequestFactory

from core.filtersets import AuditEventFilterSet, EmployeeFilterSet, GroupFilterSet
from devices.filtersets import DeviceFilterSet
from devices.selectors import device_queryset
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db


def _request(org, query=""):
    request = RequestFactory().get(f"/?{query}")
    request.organization = org
    return request


def _filtered(cls, org, query, queryset=None):
    request = _request(org, query)
    queryset = cls._meta.model.objects.for_org(org) if queryset is None else queryset
    filterset = cls(request.GET, queryset=queryset, request=request)
    assert filterset.is_valid(), filterset.errors
    return list(filterset.qs)


def test_ordering_ends_with_the_primary_key_so_ties_keep_one_place(org):
    tied = [EmployeeFactory(organization=org, full_name="Same") for _ in range(4)]
    assert _filtered(EmployeeFilterSet, org, "ordering=full_name") == sorted(tied, key=lambda e: -e.pk)
    assert _filtered(EmployeeFilterSet, org, "ordering=-full_name") == sorted(tied, key=lambda e: -e.pk)
    devices = DeviceFactory.create_batch(3, organization=org, platform="linux")
    queryset = device_queryset(organization=org)
    assert _filtered(DeviceFilterSet, org, "ordering=id", queryset) == sorted(devices, key=lambda d: d.pk)
    assert _filtered(DeviceFilterSet, org, "ordering=platform", queryset) == sorted(devices, key=lambda d: -d.pk)


def test_group_filter_names_a_group_of_the_organization_case_insensitively(org, other_org):
    group = GroupFactory(organization=org, name="Ops")
    GroupFactory(organization=other_org, name="Theirs")
    inside = DeviceFactory(organization=org)
    group.devices.add(inside)
    DeviceFactory(organization=org)
    assert _filtered(DeviceFilterSet, org, "group=%20oPs%20", device_queryset(organization=org)) == [inside]
    request = _request(org, "group=theirs")
    filterset = DeviceFilterSet(request.GET, queryset=device_queryset(organization=org), request=request)
    assert not filterset.is_valid() and "Unknown group" in str(filterset.errors["group"])


@pytest.mark.parametrize(
    ("cls", "query"),
    [(EmployeeFilterSet, "status=active&ordering=-email&search=a"), (GroupFilterSet, "search=o"),
     (AuditEventFilterSet, "actor_type=user&created_after=2020-01-01T00:00:00Z")],
)
def test_core_filtersets_validate_and_filter(org, other_org, cls, query):
    EmployeeFactory.create_batch(2, organization=org)
    EmployeeFactory(organization=other_org)
    rows = _filtered(cls, org, query)
    assert all(row.organization_id == org.pk for row in rows)


def test_employee_search_matches_email_name_login_and_exact_external_id(org):
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test", external_id="E-1")
    EmployeeFactory(organization=org, full_name="Bob", email="bob@acme.test", external_id="E-11")
    assert _filtered(EmployeeFilterSet, org, "search=LOVE") == [ada]
    assert _filtered(EmployeeFilterSet, org, "search=E-1") == [ada]
