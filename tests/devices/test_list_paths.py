"""The device list's pages: counts that never go stale, the HTML of a row, the filter form, the lean serializer
(the SQL itself: tests/devices/test_listing.py)."""

import re
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.http import QueryDict
from django.template import engines
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Membership
from core.paging import org_data_changed
from core.services import employee_update
from devices import services
from devices.api import DeviceSerializer
from devices.models import Device
from devices.selectors import device_queryset, with_group_names
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory


def count(api, **params):
    response = api.get("/api/v1/devices/", params)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def test_fast_representation_equals_drf_generic_output(org, employee, actor):
    groups = [GroupFactory(organization=org, name=n) for n in ("Zeta", "Alpha")]
    plain = DeviceFactory(organization=org, serial_number="", name="no-serial", notes="", fleet_uuid="")
    assigned = services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    archived = services.device_archive(device=DeviceFactory(organization=org), actor=actor, wipe=True)
    rich = DeviceFactory(organization=org, enrollment_issues=["offline", "agent_missing"], fleet_host_id=4242,
                         fleet_uuid="UUID-1", last_seen_at=timezone.now(), notes="=cmd")
    rich.groups.set(groups)
    for device in (plain, assigned, archived, rich):
        fresh = device_queryset(organization=org).get(pk=device.pk)
        serializer = DeviceSerializer()
        assert serializer.to_representation(fresh) == serializer.generic_representation(fresh)
        with_names = with_group_names([fresh])[0]
        assert serializer.to_representation(with_names) == serializer.generic_representation(fresh)
    assert with_group_names([device_queryset(organization=org).get(pk=rich.pk)])[0].group_names == ["Alpha", "Zeta"]


def test_count_follows_every_kind_of_write(api, org, employee, actor):
    device = DeviceFactory(organization=org)
    assert count(api) == 1
    DeviceFactory(organization=org)  # a plain ORM save
    assert count(api) == 2
    assert count(api, availability_status="in_use") == 0
    services.device_assign(device=device, employee=employee, actor=actor)  # a service
    assert count(api, availability_status="in_use") == 1
    group = GroupFactory(organization=org, name="Design")
    assert count(api, group="Design") == 0
    device.groups.add(group)  # a membership change
    assert count(api, group="Design") == 1
    group.devices.remove(device)  # from the other side
    assert count(api, group="Design") == 0
    assert count(api, search="ada@acme.test") == 1
    employee_update(employee=employee, actor=actor, email="ada.l@acme.test")  # search matches assignee e-mail
    assert count(api, search="ada@acme.test") == 0
    Device.objects.filter(pk=device.pk).update(name="renamed-in-bulk")  # bypasses signals…
    org_data_changed(org.pk)  # …so bulk writers say so
    assert count(api, search="renamed-in-bulk") == 1


def test_counts_are_cached_per_organization_and_filter(api, org, other_org):
    DeviceFactory.create_batch(3, organization=org)
    DeviceFactory.create_batch(2, organization=other_org)
    assert count(api) == 3
    with CaptureQueriesContext(connection) as queries:
        assert count(api) == 3
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert count(api, platform="windows") == 0


def test_cockpit_inventory_does_not_list_every_employee(cockpit_client, org):
    EmployeeFactory.create_batch(30, organization=org)
    DeviceFactory(organization=org)
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert 'name="assignee"' in body
    filters = body.split('id="bulk-bar"')[0]  # the action bar's actions and groups come after the filters
    assert filters.count("<option") < 40  # statuses, platforms, issues, groups — not 30 employees


def test_csv_export_queries_do_not_grow_with_devices(cockpit_client, org):
    group = GroupFactory(organization=org)

    def export_queries(n):
        for device in DeviceFactory.create_batch(n, organization=org):
            device.groups.add(group)
        with CaptureQueriesContext(connection) as queries:
            response = cockpit_client.get(f"/o/{org.slug}/devices/export.csv")
            rows = b"".join(response.streaming_content).decode().strip().splitlines()
        return len(queries.captured_queries), len(rows)

    cockpit_client.get(f"/o/{org.slug}/devices/")  # the user and memberships are cached from here on
    small, rows_small = export_queries(5)
    large, rows_large = export_queries(50)
    assert (rows_small, rows_large) == (6, 56)
    assert small == large


# The inventory rows as the template renders them from model instances (tests/devices/reference_device_rows.html).
REFERENCE_ROWS = (Path(__file__).parent / "reference_device_rows.html").read_text()


def _between_tags(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())




def _rows_part(body: str) -> str:
    return body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_inventory_rows_read_as_the_reference_template_renders_the_devices(cockpit_client, org, actor):
    technician = member(org, Membership.Role.TECHNICIAN, username="<tech>&co")
    groups = [GroupFactory(organization=org, name=n) for n in ("R&D <lab>", "Alpha")]
    nameless = EmployeeFactory(organization=org, full_name="", email="o'brien@acme.test")
    quoted = EmployeeFactory(organization=org, full_name='Zoë "Z" <b>Doe</b>')
    made = [
        DeviceFactory(organization=org, name="", serial_number="", platform="windows", usage="shared",
                      responsible_technician=technician, last_seen_at=timezone.now() - timedelta(hours=3)),
        DeviceFactory(organization=org, name="<script>x</script>", usage="shared", platform="other",
                      last_seen_at=timezone.now() - timedelta(days=400)),
        services.device_assign(device=DeviceFactory(organization=org, name="a&b"), employee=nameless, actor=actor),
        services.device_assign(device=DeviceFactory(organization=org), employee=quoted, actor=actor),
        services.device_archive(device=DeviceFactory(organization=org), actor=actor, wipe=False),
        DeviceFactory(organization=org, enrollment_status="partially_enrolled", platform="linux",
                      last_seen_at=timezone.now() - timedelta(minutes=5)),
    ]
    made[2].groups.set(groups)
    made[5].groups.set(groups[:1])
    # The owners' groups show too, apart (the inventory's Groups column): those the device is not in itself.
    nameless.groups.set([groups[1], GroupFactory(organization=org, name="Zed")])
    quoted.groups.set(groups[:1])
    devices = with_group_names(device_queryset(organization=org).filter(pk__in=[d.pk for d in made]))
    expected = engines["django"].from_string(REFERENCE_ROWS).render({"page": devices, "organization": org})
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert _between_tags(_rows_part(body)) == _between_tags(expected)
    assert "&lt;script&gt;" in expected and "Shared · &lt;tech&gt;&amp;co" in expected  # the cases above are hit
    assert expected.count("via-owner") == 2 and 'title="Through its owner">Zed<' in expected
    assert "1\xa0year ago" in expected and "3\xa0hours ago" in expected and "never" in expected


def test_inventory_rows_follow_a_write_at_once(cockpit_client, org, actor, employee):
    device = DeviceFactory(organization=org, name="before")
    url = f"/o/{org.slug}/devices/"
    assert ">before<" in cockpit_client.get(url).content.decode()
    services.device_update(device=device, actor=actor, name="after")
    services.device_assign(device=device, employee=employee, actor=actor)
    body = _rows_part(cockpit_client.get(url).content.decode())
    assert ">after<" in body and f"/employees/{employee.pk}/" in body and ">before<" not in body
    with CaptureQueriesContext(connection) as queries:
        assert _rows_part(cockpit_client.get(url).content.decode()) == body  # the same page again: from the cache
    assert not [q for q in queries.captured_queries if "devices_device" in q["sql"]]


def test_inventory_pages_and_orders(cockpit_client, org):
    for i in range(55):
        DeviceFactory(organization=org, name=f"dev-{i:02d}")
    url = f"/o/{org.slug}/devices/"
    first = cockpit_client.get(url, {"ordering": "name"}).content.decode()
    second = cockpit_client.get(url, {"ordering": "name", "page": 2}).content.decode()
    assert "55 results" in first and "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.index(">dev-00<") < first.index(">dev-01<") and ">dev-50<" not in first
    assert _rows_part(second).count("<tr>") == 5 and ">dev-54<" in second


def test_inventory_with_invalid_filters_shows_the_whole_form_its_errors_and_no_rows(cockpit_client, org):
    GroupFactory(organization=org, name="Ops")
    DeviceFactory(organization=org, platform="windows")
    response = cockpit_client.get(f"/o/{org.slug}/devices/", {"platform": "windows", "group": "Nope"})
    body = response.content.decode()
    assert response.status_code == 200 and "No device matches" in body and "0 results" in body
    form_html = _filters_part(body)
    for name in ("availability_status", "assignment_status", "search", "not_seen_in_fleet", "assignee"):
        assert f'name="{name}"' in form_html, name  # every filter is shown…
    assert "Unknown group" in form_html and 'value="windows" selected' in form_html  # …with the values and errors


def test_inventory_page_lists_rows_and_the_empty_message(cockpit_client, org, other_org):
    DeviceFactory(organization=other_org, name="theirs")
    mine = DeviceFactory(organization=org, name="mine")
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert f'href="/o/{org.slug}/devices/{mine.pk}/"' in body and "theirs" not in body
    assert "No device matches" not in body
    body = cockpit_client.get(f"/o/{org.slug}/devices/", {"platform": "windows"}).content.decode()
    assert "No device matches these filters." in body and "mine" not in body






def test_inventory_filter_shows_a_group_added_since_the_last_visit(cockpit_client, org):
    GroupFactory(organization=org, name="Ops")
    assert ">Ops</option>" in cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    GroupFactory(organization=org, name="Sales")
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert ">Ops</option>" in body and ">Sales</option>" in body








def _filters_part(body: str) -> str:
    return body.split('<form method="get" class="filters"', 1)[1].split("</form>", 1)[0]


def test_filter_form_fragment_is_what_the_template_renders_and_follows_every_change(cockpit_client, org, other_org):
    from django.template.loader import get_template

    from devices.filtersets import DeviceFilterSet

    GroupFactory(organization=org, name="Ops")
    GroupFactory(organization=other_org, name="Theirs")
    url = f"/o/{org.slug}/devices/"
    for params in ({}, {"platform": "windows", "ordering": "-name", "page": "1"}, {"group": "Sales", "assignee": "x"}):
        request = RequestFactory().get(url, params)
        request.organization = org
        plain = DeviceFilterSet(request.GET or None, queryset=device_queryset(organization=org), request=request)
        expected = "<form" + get_template("_filters.html").render({"filter": plain}).split("<form", 1)[1]
        first = _filters_part(cockpit_client.get(url, params).content.decode())
        with CaptureQueriesContext(connection) as queries:
            again = _filters_part(cockpit_client.get(url, params).content.decode())
        assert first == again == _filters_part(expected)  # Django's own widget rendering, uncached
        listed = [q["sql"] for q in queries.captured_queries if "cockpit_group" in q["sql"] and "LIMIT" not in q["sql"]]
        assert not listed  # the group options were not read again (the ?group= value is still validated)
    assert "Unknown group" in again  # …until the group exists
    GroupFactory(organization=org, name="Sales")
    now = _filters_part(cockpit_client.get(url, {"group": "Sales", "assignee": "x"}).content.decode())
    assert "Unknown group" not in now and 'value="Sales" selected' in now and "Theirs" not in now
    windows = _filters_part(cockpit_client.get(url, {"platform": "windows"}).content.decode())
    assert 'value="windows" selected' in windows




def test_fast_representation_follows_the_current_time_zone(org, employee, actor):
    device = services.device_assign(device=DeviceFactory(organization=org, last_seen_at=timezone.now()),
                                    employee=employee, actor=actor)
    fresh = with_group_names([device_queryset(organization=org).get(pk=device.pk)])[0]
    with timezone.override("Europe/Paris"):
        fast = DeviceSerializer().to_representation(fresh)
        assert fast == DeviceSerializer().generic_representation(fresh)
    assert fast["last_seen_at"].endswith(("+01:00", "+02:00"))


def test_every_device_filter_passes_an_empty_value_through(org):
    """What lets the API skip the FilterSet when a request has no filter parameter (DeviceViewSet.filter_queryset)."""

    from devices.filtersets import DeviceFilterSet

    request = RequestFactory().get("/")
    request.organization = org
    queryset = device_queryset(organization=org)
    filterset = DeviceFilterSet(QueryDict(), queryset=queryset, request=request)
    for name, device_filter in filterset.filters.items():
        for empty in ("", None, [], ()):
            assert str(device_filter.filter(queryset, empty).query) == str(queryset.query), (name, empty)


def test_unfiltered_api_list_skips_the_filterset_and_lists_the_same(api, org, other_org):
    DeviceFactory.create_batch(7, organization=org)
    DeviceFactory.create_batch(3, organization=other_org)
    plain = api.get("/api/v1/devices/", {"page_size": 5, "page": 2}).json()
    filtered = api.get("/api/v1/devices/", {"page_size": 5, "page": 2, "ordering": "-id"}).json()  # same order
    assert plain["count"] == 7 and [d["id"] for d in plain["results"]] == [d["id"] for d in filtered["results"]]
    assert len(plain["results"]) == 2
    assert api.get("/api/v1/devices/", {"platfrom": "macos"}).status_code == 400  # unknown parameters still refused
    assert api.get("/api/v1/devices/", {"platform": "windows"}).json()["count"] == 0  # filters still filter
























