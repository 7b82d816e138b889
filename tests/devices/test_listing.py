"""devices.listing: the device list's own SQL keeps the FilterSet's filters, orderings, pages and tenant scope."""

from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.actors import Actor
from core.models import Employee, Membership, Organization
from devices import services
from devices.api import DeviceSerializer
from devices.filtersets import DeviceFilterSet
from devices.listing import (
    API_COLUMNS,
    INVENTORY_COLUMNS,
    DeviceListing,
    api_rows,
    device_filter_spec,
    filter_spec,
    inventory_rows,
)
from devices.models import Device
from devices.selectors import device_queryset, with_group_names
from tests.conftest import api_client_for, member, rows_shared_by_the_module, token_key
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def _request(org, query=""):
    request = RequestFactory().get(f"/?{query}")
    request.organization = org
    return request


@pytest.fixture(scope="module")
def _world(django_db_setup, django_db_blocker):
    """Devices with ties on every sort column, assignees, shared devices, groups, issues and Fleet misses, written
    once for the module's tests that read them (``rows_shared_by_the_module``)."""
    with rows_shared_by_the_module(django_db_blocker):
        org = OrganizationFactory(slug="world", name="World")  # beside the "acme" of the tests without it
        other_org = OrganizationFactory(slug="world-other", name="Other")
        actor = Actor.for_user(member(org, Membership.Role.ADMIN))
        technician = member(org, Membership.Role.TECHNICIAN, username="tech")
        groups = [GroupFactory(organization=org, name=n) for n in ("Ops", "alpha")]
        people = [EmployeeFactory(organization=org, full_name=n, email=f"p{i}@acme.test")
                  for i, n in enumerate(("Zoë", "ada", "", "Ada"))]
        now = timezone.now()
        for i in range(24):
            device = DeviceFactory(
                organization=org, platform=("windows", "macos", "linux")[i % 3],
                name=f"d{i % 4}_x" if i % 7 else "", serial_number=f"SN{i:03d}" if i % 5 else "",
                last_seen_at=None if i % 2 else now - timedelta(hours=i),
                enrollment_issues=["agent_missing"] if i % 4 == 0 else (["offline"] if i % 4 == 1 else []),
                fleet_missing_since=now if i % 6 == 0 else None,
            )
            device.groups.set(groups[: i % 3])
            if i % 3 == 0:
                services.device_assign(device=device, employee=people[i % 4], actor=actor)
            elif i % 3 == 1:
                services.device_update(device=device, actor=actor, usage="shared", responsible_technician=technician)
        Device.objects.filter(organization=org, serial_number="SN007").update(name="50%_x'\"\\")
        DeviceFactory.create_batch(4, organization=other_org, platform="windows", name="d1_x")
        yield org.pk, other_org.pk, [person.pk for person in people]


@pytest.fixture
def world(_world, db):
    """The module's world, read afresh: its organization, the other one, and its four people."""
    org_id, other_org_id, people_ids = _world
    people = Employee.objects.in_bulk(people_ids)
    return Organization.objects.get(pk=org_id), Organization.objects.get(pk=other_org_id), [
        people[pk] for pk in people_ids]


QUERIES = [
    "", "ordering=name", "ordering=-name", "ordering=platform", "ordering=-assignee", "ordering=assignee,-platform",
    "ordering=last_seen_at", "ordering=-last_seen_at", "ordering=id", "ordering=-created_at",
    "ordering=serial_number,-id", "ordering=enrollment_status", "ordering=availability_status",
    "ordering=assignment_status", "availability_status=in_use&platform=windows", "assignment_status=to_assign",
    "enrollment_status=enrolled", "platform=linux&ordering=-name", "group=ops", "group=ALPHA&ordering=name",
    "search=D1", "search=%20ada%20", "search=p1@acme", "search=50%25_x'%22", "search=%5C", "search=_",
    "not_seen_in_fleet=true", "not_seen_in_fleet=false", "not_seen_in_fleet=maybe", "assignee_email=P2@ACME.TEST",
    "enrollment_issue=agent_missing", "enrollment_issue=offline&ordering=-last_seen_at", "serial_number=%20sn003",
    "serial_number=SN_03", "platform=", "ordering=",
]


@pytest.mark.parametrize("query", QUERIES)
def test_every_filter_and_ordering_lists_what_the_filterset_selects(world, query):
    """The listing's SQL against the FilterSet's own ORM filters (the CSV export runs those), page by page."""
    org, _other_org, _people = world
    request = _request(org, query)
    filterset = DeviceFilterSet(request.GET, queryset=device_queryset(organization=org), request=request)
    assert filterset.is_valid(), filterset.errors
    expected = list(filterset.qs.values_list("pk", flat=True))
    listing = DeviceListing(organization_id=org.pk, spec=filter_spec(filterset.form.cleaned_data),
                            columns=INVENTORY_COLUMNS, rows=lambda records: [r["id"] for r in records])
    assert listing.count() == len(expected)
    pages = [list(listing[start:start + 5]) for start in range(0, 30, 5)]
    assert [pk for page in pages for pk in page] == expected, query
    assert list(listing[3:3]) == [] and list(listing[40:45]) == []


def test_filters_select_what_they_say(world):
    org, _other_org, people = world

    def ids(query):
        spec = device_filter_spec(QueryDict(query), request=_request(org, query))[0]
        listing = DeviceListing(organization_id=org.pk, spec=spec, columns=API_COLUMNS, rows=api_rows)
        return {row["id"] for row in listing[0:100]}

    mine = Device.objects.filter(organization=org)
    assert ids("") == set(mine.values_list("pk", flat=True)) and len(ids("")) == 24
    assert ids("platform=windows") == set(mine.filter(platform="windows").values_list("pk", flat=True))
    assert ids(f"assignee={people[1].pk}") == set(mine.filter(assignee=people[1]).values_list("pk", flat=True))
    assert ids("search=50%25_x") == set(mine.filter(serial_number="SN007").values_list("pk", flat=True))
    assert ids("search=ADA") == set(mine.filter(assignee__in=people[1:]).values_list("pk", flat=True)) - set(
        mine.filter(assignee=people[2]).values_list("pk", flat=True))  # "ada", "Ada"; not the nameless p2
    assert ids("enrollment_issue=agent_missing") == {d.pk for d in mine if "agent_missing" in d.enrollment_issues}
    assert ids("not_seen_in_fleet=true") == set(
        mine.filter(fleet_missing_since__isnull=False).values_list("pk", flat=True))


def test_a_page_is_one_statement_on_postgresql_and_two_elsewhere(world):
    org, _other_org, _people = world
    listing = DeviceListing(organization_id=org.pk, spec={"ordering": ["-assignee"]}, columns=API_COLUMNS,
                            rows=api_rows)
    with CaptureQueriesContext(connection) as queries:
        rows = list(listing[0:10])
    assert len(rows) == 10
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    with CaptureQueriesContext(connection) as queries:
        assert listing.count() == 24 and listing.count() == 24
    assert len(queries.captured_queries) == 1  # then from the cache


def test_a_page_read_from_nowhere_runs_no_query(org):
    DeviceFactory(organization=org)
    listing = DeviceListing(organization_id=org.pk, spec={}, columns=API_COLUMNS, rows=api_rows)
    with CaptureQueriesContext(connection) as queries:
        page = listing[0:50]
    assert not queries.captured_queries and len(page) == 1
    invalid = DeviceListing(organization_id=org.pk, spec=None, columns=API_COLUMNS, rows=api_rows)
    with CaptureQueriesContext(connection) as queries:
        assert invalid.count() == 0 and list(invalid[0:50]) == []
    assert not queries.captured_queries


def test_the_organization_scopes_every_statement(org, other_org):
    mine = DeviceFactory.create_batch(3, organization=org)
    theirs = DeviceFactory.create_batch(3, organization=other_org)
    group = GroupFactory(organization=other_org, name="Theirs")
    group.devices.add(*theirs)
    for spec in ({}, {"group": group.pk}, {"assignee": theirs[0].pk}, {"ordering": ["name"]}):
        listing = DeviceListing(organization_id=org.pk, spec=spec, columns=INVENTORY_COLUMNS, rows=inventory_rows)
        assert {row["id"] for row in listing[0:50]} <= {d.pk for d in mine}
        assert listing.count() == len(list(listing[0:50]))
    theirs_listing = DeviceListing(organization_id=other_org.pk, spec={}, columns=API_COLUMNS, rows=api_rows)
    assert {row["id"] for row in theirs_listing[0:50]} == {d.pk for d in theirs}


def test_api_rows_are_the_serializers_fields_in_every_time_zone(world):
    org, _other_org, _people = world
    stamp = timezone.now().replace(year=2001, month=1, day=2, hour=3, minute=4, second=5, microsecond=0)
    Device.objects.filter(organization=org, name="d1_x").update(archived_at=stamp, assigned_at=stamp)
    for zone in ("UTC", "Europe/Paris", "America/New_York"):
        with timezone.override(zone):
            listing = DeviceListing(organization_id=org.pk, spec={}, columns=API_COLUMNS, rows=api_rows)
            devices = with_group_names(device_queryset(organization=org)[0:24])
            expected = [DeviceSerializer().generic_representation(device) for device in devices]
            assert list(listing[0:24]) == expected, zone
    assert any(row["groups"] == ["alpha", "Ops"] or row["groups"] == ["Ops", "alpha"] for row in expected)


def test_the_api_list_filters_pages_and_refuses_like_before(world):
    org, _other_org, _people = world
    api = api_client_for(token_key(org, "write"))
    body = api.get("/api/v1/devices/", {"platform": "windows", "page_size": 3, "page": 2}).json()
    assert body["count"] == 8 and len(body["results"]) == 3 and body["previous"] and body["next"]
    assert all(row["platform"] == "windows" for row in body["results"])
    assert set(body["results"][0]) == set(DeviceSerializer.Meta.fields)
    unknown = api.get("/api/v1/devices/", {"platfrom": "windows"})
    assert unknown.status_code == 400 and "platfrom" in unknown.json()["fields"]
    invalid = api.get("/api/v1/devices/", {"platform": "nope", "group": "Nope"})
    assert invalid.status_code == 400 and {"platform", "group"} <= set(invalid.json()["fields"])
    assert api.get("/api/v1/devices/", {"page": 99}).status_code == 404
    assert api.get("/api/v1/devices/", {"ordering": "bogus"}).status_code == 400


def test_api_list_query_count_does_not_grow_with_the_page(world):
    org, _other_org, _people = world
    api = api_client_for(token_key(org, "write"))
    api.get("/api/v1/devices/", {"page_size": 2, "group": "ops"})  # the token, filters and count are cached now
    counts = []
    for size in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get("/api/v1/devices/", {"page_size": size, "group": "ops"}).json()["results"]) > 1
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_a_valid_filter_spec_is_cached_until_the_organizations_data_changes(org):
    GroupFactory(organization=org, name="Ops")
    query = QueryDict("group=ops&platform=windows")
    spec, filterset = device_filter_spec(query, request=_request(org))
    assert filterset is not None and set(spec) == {"group", "platform"}
    with CaptureQueriesContext(connection) as queries:
        again, filterset = device_filter_spec(query, request=_request(org))
    assert again == spec and filterset is None and not queries.captured_queries
    bad, filterset = device_filter_spec(QueryDict("group=sales"), request=_request(org))
    assert bad is None and "group" in filterset.errors
    GroupFactory(organization=org, name="Sales")  # a new generation: validated again
    assert device_filter_spec(QueryDict("group=sales"), request=_request(org))[0]["group"]
    assert device_filter_spec(QueryDict("page=2&format=json"), request=_request(org)) == ({}, None)
