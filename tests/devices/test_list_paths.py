"""The device list's fast paths: a lean serializer, group names per page, cached counts that never go stale."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Membership
from core.paging import org_data_changed
from core.services import employee_update
from devices import services
from devices.api import DeviceSerializer
from devices.models import Device
from devices.selectors import DeviceRow, device_queryset, with_group_names
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
    assert body.count("<option") < 40  # statuses, platforms, issues, groups — not 30 employees


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


# The inventory rows as the template rendered them before devices.views.device_rows_html replaced the loop.
REFERENCE_ROWS = (Path(__file__).parent / "reference_device_rows.html").read_text()


def _between_tags(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


def test_python_rows_equal_the_template_rows(org, actor):
    from django.template import engines

    from devices.views import device_rows_html

    technician = member(org, Membership.Role.TECHNICIAN, username="<tech>&co")
    groups = [GroupFactory(organization=org, name=n) for n in ("R&D <lab>", "Alpha")]
    nameless = EmployeeFactory(organization=org, full_name="", email="o'brien@acme.test")
    quoted = EmployeeFactory(organization=org, full_name='Zoë "Z" <b>Doe</b>')
    made = [
        DeviceFactory(organization=org, name="", serial_number="", platform="windows", usage="shared",
                      responsible_technician=technician, last_seen_at=timezone.now() - timedelta(hours=3)),
        DeviceFactory(organization=org, name="<script>x</script>", usage="shared", platform="other"),
        services.device_assign(device=DeviceFactory(organization=org, name="a&b"), employee=nameless, actor=actor),
        services.device_assign(device=DeviceFactory(organization=org), employee=quoted, actor=actor),
        services.device_archive(device=DeviceFactory(organization=org), actor=actor, wipe=False),
        DeviceFactory(organization=org, enrollment_status="partially_enrolled", platform="linux"),
    ]
    made[2].groups.set(groups)
    made[5].groups.set(groups[:1])
    devices = with_group_names(device_queryset(organization=org).filter(pk__in=[d.pk for d in made]))
    expected = engines["django"].from_string(REFERENCE_ROWS).render({"page": devices, "organization": org})
    assert _between_tags(str(device_rows_html(devices, org))) == _between_tags(expected)
    assert "&lt;script&gt;" in expected and "Shared · &lt;tech&gt;&amp;co" in expected  # the cases above are hit


def test_inventory_page_lists_rows_and_the_empty_message(cockpit_client, org, other_org):
    DeviceFactory(organization=other_org, name="theirs")
    mine = DeviceFactory(organization=org, name="mine")
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert f'href="/o/{org.slug}/devices/{mine.pk}/"' in body and "theirs" not in body
    assert "No device matches" not in body
    body = cockpit_client.get(f"/o/{org.slug}/devices/", {"platform": "windows"}).content.decode()
    assert "No device matches these filters." in body and "mine" not in body


def _filter_form(org, **params):
    from django.forms.renderers import DjangoTemplates
    from django.test import RequestFactory

    from devices.filtersets import DeviceFilterSet

    request = RequestFactory().get("/", params)
    request.organization = org
    filterset = DeviceFilterSet(request.GET, queryset=device_queryset(organization=org), request=request)
    assert filterset.is_valid()
    filterset.form.renderer = DjangoTemplates()
    return filterset


def test_group_options_render_the_same_from_one_query_then_from_the_cache(org, other_org):
    from devices.views import read_model_choices

    GroupFactory(organization=org, name="Zeta & co")
    group = GroupFactory(organization=org, name="alpha")
    GroupFactory(organization=other_org, name="Not ours")
    EmployeeFactory.create_batch(3, organization=org)
    filterset = _filter_form(org, group="alpha")
    form = filterset.form
    expected = {name: str(form[name]) for name in form.fields}
    with CaptureQueriesContext(connection) as queries:
        read_model_choices(form, organization_id=org.pk)
    assert len(queries.captured_queries) == 1 and "cockpit_group" in queries.captured_queries[0]["sql"]
    with CaptureQueriesContext(connection) as queries:
        assert {name: str(form[name]) for name in form.fields} == expected
    assert not queries.captured_queries  # no server-side cursor, no employee list
    assert 'value="alpha" selected' in expected["group"] and "Not ours" not in expected["group"]
    assert filterset.qs.query.where  # validation still ran on the queryset: the filter applies

    again = _filter_form(org, group="alpha").form
    with CaptureQueriesContext(connection) as queries:
        read_model_choices(again, organization_id=org.pk)
    assert not queries.captured_queries  # the options of this organization's data generation
    assert str(again["group"]) == expected["group"]

    group.name = "Alpha team"  # a rename, then a new group: both show at once
    group.save()
    GroupFactory(organization=org, name="Beta")
    fresh = _filter_form(org, group="Beta").form
    read_model_choices(fresh, organization_id=org.pk)
    options = str(fresh["group"])
    assert ">Alpha team<" in options and 'value="Beta" selected' in options and ">alpha<" not in options
    theirs = _filter_form(other_org).form
    read_model_choices(theirs, organization_id=other_org.pk)
    assert ">Not ours<" in str(theirs["group"]) and "Beta" not in str(theirs["group"])


def test_inventory_filter_shows_a_group_added_since_the_last_visit(cockpit_client, org):
    GroupFactory(organization=org, name="Ops")
    assert ">Ops</option>" in cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    GroupFactory(organization=org, name="Sales")
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert ">Ops</option>" in body and ">Sales</option>" in body


def _plain_page(queryset, bottom, top):
    return [(d.pk, d.group_names) for d in with_group_names(queryset[bottom:top])]


def test_pages_in_one_statement_match_plain_slices_in_every_order(org, other_org, employee, actor):
    from core.paging import PagedQuerySet
    from devices.filtersets import DeviceFilterSet
    from devices.selectors import device_page_rows

    groups = [GroupFactory(organization=org, name=n) for n in ("Beta", "alpha")]
    for i in range(23):  # ties on platform, name and last-seen, so the primary key has to break them
        device = DeviceFactory(organization=org, platform=("windows", "macos", "linux")[i % 3], name=f"d{i % 4}",
                               last_seen_at=None if i % 2 else timezone.now() - timedelta(days=i % 5))
        device.groups.set(groups[: i % 3])
        if i % 5 == 0:
            services.device_assign(device=device, employee=EmployeeFactory(organization=org), actor=actor)
    DeviceFactory.create_batch(5, organization=other_org)
    for ordering in ("", "name", "-name", "platform", "-assignee", "last_seen_at", "-last_seen_at"):
        params = QueryDict(f"ordering={ordering}" if ordering else "")
        queryset = DeviceFilterSet(params, queryset=device_queryset(organization=org)).qs
        paged = PagedQuerySet(queryset, organization_id=org.pk, list_name="devices", params=params,
                              page_rows=device_page_rows)
        seen = []
        for bottom in range(0, 30, 7):
            page = [(d.pk, d.group_names) for d in with_group_names(paged[bottom:bottom + 7])]
            assert page == _plain_page(queryset, bottom, bottom + 7), ordering
            seen += [pk for pk, _names in page]
        assert sorted(seen) == sorted(Device.objects.filter(organization=org).values_list("pk", flat=True))
        assert paged[5:5] == [] and paged[40:47] == []


def test_a_page_is_one_statement_on_postgresql(org, actor):
    from core.paging import PagedQuerySet
    from devices.selectors import device_page_rows
    from devices.views import device_rows_html

    group = GroupFactory(organization=org, name="Ops")
    technician = member(org, Membership.Role.TECHNICIAN, username="tech")
    for i, device in enumerate(DeviceFactory.create_batch(12, organization=org)):
        device.groups.add(group)
        if i % 3 == 0:
            services.device_assign(device=device, employee=EmployeeFactory(organization=org), actor=actor)
        elif i % 3 == 1:
            services.device_update(device=device, actor=actor, usage="shared", responsible_technician=technician)
    paged = PagedQuerySet(device_queryset(organization=org), organization_id=org.pk, list_name="devices",
                          params=QueryDict(), page_rows=device_page_rows)
    with CaptureQueriesContext(connection) as queries:
        page = with_group_names(paged[0:10])
        json_rows = DeviceSerializer(page, many=True).data  # the rows hold all the API's row and the
        html_rows = device_rows_html(page, org)  # cockpit's read: nothing is loaded one device at a time
    assert [d.group_names for d in page] == [["Ops"]] * 10
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    full = with_group_names(device_queryset(organization=org)[0:10])  # model instances, every field
    assert json_rows == DeviceSerializer(full, many=True).data
    assert html_rows == device_rows_html(full, org)
    assert "Shared · tech" in html_rows and [str(row) for row in page] == [str(device) for device in full]


def _filters_part(body: str) -> str:
    return body.split('<form method="get" class="filters"', 1)[1].split("</form>", 1)[0]


def test_filter_form_fragment_is_what_the_template_renders_and_follows_every_change(cockpit_client, org, other_org):
    from django.template.loader import get_template
    from django.test import RequestFactory

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


def test_last_seen_reads_as_the_ago_filter():
    from core.templatetags.cockpit import ago
    from devices.views import last_seen

    now = timezone.now()
    deltas = [timedelta(seconds=s) for s in (0, 40, 90, 3700, 7300, 86_430, 200_000, 700_000, 2_000_000,
                                             5_000_000, 40_000_000, 70_000_000, 400_000_000)]
    for value in [None, now + timedelta(hours=2)] + [now - delta - timedelta(seconds=20) for delta in deltas]:
        assert last_seen(value, timezone.now()) == ago(value), value


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
    from django.test import RequestFactory

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


def test_last_seen_with_one_page_of_time_strings_reads_as_the_ago_filter():
    from django.utils import translation

    from core.templatetags.cockpit import ago
    from devices.views import PageTimeStrings, last_seen

    now = timezone.now()
    seconds = (0, 40, 90, 3700, 3900, 7300, 86_430, 90_000, 200_000, 700_000, 2_000_000, 5_000_000, 40_000_000,
               70_000_000, 400_000_000)
    values = [None, now + timedelta(hours=2)] + [now - timedelta(seconds=s + 20) for s in seconds * 2]
    for language in ("en-us", "fr", "de"):
        with translation.override(language):
            strings = PageTimeStrings()  # shared by every row of a page, as device_rows_html does
            for value in values:
                assert last_seen(value, timezone.now(), strings) == ago(value), (language, value)
            assert strings  # the unit strings were taken from it


def _rows_fixture(org, actor):
    technician = member(org, Membership.Role.TECHNICIAN, username="tech")
    group = GroupFactory(organization=org, name="Ops")
    now = timezone.now()
    stamps = [None, now.replace(microsecond=0), now.replace(microsecond=120000), now.replace(microsecond=7),
              now - timedelta(days=400),
              now.replace(year=2001, month=1, day=2, hour=3, minute=4, second=5, microsecond=0)]
    for i, stamp in enumerate(stamps * 2):
        device = DeviceFactory(organization=org, last_seen_at=stamp, name=f"d{i}",
                               enrollment_issues=["offline"] if i % 2 else [])
        device.groups.add(group)
        if i % 3 == 0:
            services.device_assign(device=device, employee=EmployeeFactory(organization=org), actor=actor)
        elif i % 3 == 1:
            services.device_update(device=device, actor=actor, usage="shared", responsible_technician=technician)
    Device.objects.filter(organization=org, name="d4").update(archived_at=stamps[3], assigned_at=stamps[5])


def test_api_page_rows_serialize_as_model_instances_in_utc_and_other_zones(org, actor):
    from core.paging import PagedQuerySet
    from devices.selectors import api_page_rows

    _rows_fixture(org, actor)
    for zone in ("UTC", "Europe/Paris", "America/New_York"):
        with timezone.override(zone):
            paged = PagedQuerySet(device_queryset(organization=org), organization_id=org.pk, list_name="devices",
                                  params=QueryDict(), page_rows=api_page_rows)
            page = with_group_names(paged[0:20])
            full = with_group_names(device_queryset(organization=org)[0:20])
            fast = DeviceSerializer(page, many=True).data
            assert fast == [DeviceSerializer().generic_representation(device) for device in full], zone
            assert len(fast) == 12 and any(row["last_seen_at"] is None for row in fast)
    with timezone.override("UTC"):
        texts = {row["last_seen_at"] for row in DeviceSerializer(page, many=True).data}
    assert {t for t in texts if t and t.startswith("2001-01-02T03:04:05")} == {"2001-01-02T03:04:05Z"}


def test_inventory_page_rows_render_as_model_instances(org, actor):
    from core.paging import PagedQuerySet
    from devices.selectors import inventory_page_rows
    from devices.views import device_rows_html

    _rows_fixture(org, actor)
    paged = PagedQuerySet(device_queryset(organization=org), organization_id=org.pk, list_name="devices",
                          params=QueryDict(), page_rows=inventory_page_rows)
    page = with_group_names(paged[0:20])
    full = with_group_names(device_queryset(organization=org)[0:20])
    assert device_rows_html(page, org) == device_rows_html(full, org)
    assert not hasattr(page[0], "notes") and not hasattr(page[0], "created_at")  # not read for the inventory


def test_utc_iso_writes_what_the_api_writes():
    from datetime import UTC, datetime

    from devices.api import _iso
    from devices.selectors import utc_iso

    cases = [
        ("2026-11-21 13:14:28.381297+00", datetime(2026, 11, 21, 13, 14, 28, 381297, tzinfo=UTC)),
        ("2026-11-21 13:14:28.38+00", datetime(2026, 11, 21, 13, 14, 28, 380000, tzinfo=UTC)),
        ("2026-11-21 13:14:28.000007+00", datetime(2026, 11, 21, 13, 14, 28, 7, tzinfo=UTC)),
        ("2026-01-02 03:04:05+00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("0099-01-02 00:00:00+00", datetime(99, 1, 2, tzinfo=UTC)),
        ("2026-01-02 04:04:05.5+01", datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),  # parsed: not UTC text
    ]
    with timezone.override("UTC"):
        for text, value in cases:
            assert utc_iso(text) == _iso(value), text
    assert utc_iso(None) is None


def test_api_reads_timestamps_as_text_only_where_they_come_exact(org):
    from devices.selectors import utc_text_timestamps

    with timezone.override("UTC"):
        assert utc_text_timestamps() is (connection.vendor == "postgresql")
    with timezone.override("Europe/Paris"):
        assert utc_text_timestamps() is False


@pytest.mark.parametrize("rows_kind", ["api", "inventory"])
def test_pages_from_statements_compiled_once_per_shape_equal_the_plain_pages(org, other_org, actor, rows_kind):
    """devices.selectors.device_page_fetcher (PostgreSQL) gives the very rows of the list's own statement, for
    every ordering, filter and page, and only the organization's; elsewhere it steps aside."""
    from core.paging import PagedQuerySet
    from devices.filtersets import DeviceFilterSet
    from devices.selectors import api_page_fetcher, api_page_rows, inventory_page_fetcher, inventory_page_rows

    _rows_fixture(org, actor)
    GroupFactory(organization=org, name="alpha").devices.add(*Device.objects.filter(organization=org)[:4])
    theirs = DeviceFactory.create_batch(4, organization=other_org, platform="windows")
    page_rows, fetcher = {"api": (api_page_rows, api_page_fetcher),
                          "inventory": (inventory_page_rows, inventory_page_fetcher)}[rows_kind]
    queries = ["", "ordering=name", "ordering=-assignee", "ordering=last_seen_at", "platform=windows",
               "group=Ops&ordering=-name", "search=d1", "not_seen_in_fleet=false", "assignee_email=nobody@x.test",
               "search=50%25_x'%22", "enrollment_issue=offline&ordering=-last_seen_at", "serial_number=%20abc"]
    request = RequestFactory().get("/")
    request.organization = org
    fetched_any = False
    with timezone.override("UTC"):
        for query in queries:
            params = QueryDict(query)
            queryset = DeviceFilterSet(params, queryset=device_queryset(organization=org), request=request).qs
            fetch = fetcher(organization_id=org.pk)
            for bottom, top in ((0, 5), (5, 10), (10, 15), (0, 50)):
                ids = queryset.values("pk")[bottom:top]
                with CaptureQueriesContext(connection) as captured:
                    fetched = fetch(queryset, ids)
                plain = PagedQuerySet(queryset, organization_id=org.pk, list_name="devices", params=params,
                                      page_rows=page_rows)[bottom:top]
                if connection.vendor != "postgresql":
                    assert fetched is None and not captured.captured_queries
                    continue
                fetched_any = True
                assert len(captured.captured_queries) == 1 and str(org.pk) in captured.captured_queries[0]["sql"]
                slots = [s for s in DeviceRow.__slots__ if s not in ("assignee", "responsible_technician")]
                assert [_row_values(row, slots) for row in fetched] == [_row_values(row, slots) for row in plain]
                assert not {row.pk for row in fetched} & {device.pk for device in theirs}
    assert fetched_any is (connection.vendor == "postgresql")


def _row_values(row, slots):
    values = {name: getattr(row, name) for name in slots if hasattr(row, name)}
    values["assignee"] = (row.assignee.pk, row.assignee.email, row.assignee.display_name) if row.assignee else None
    technician = row.responsible_technician
    values["technician"] = technician.get_username() if technician else None
    return values


def test_a_page_statement_keeps_the_organization_a_parameter(org, other_org):
    """One statement serves every organization: compiled for one, it reads only the other's rows for the other."""
    from devices.selectors import device_page_fetcher

    mine = DeviceFactory.create_batch(3, organization=org)
    theirs = DeviceFactory.create_batch(3, organization=other_org)
    fetch_mine = device_page_fetcher(organization_id=org.pk)
    fetch_theirs = device_page_fetcher(organization_id=other_org.pk)
    rows_mine = fetch_mine(device_queryset(organization=org), device_queryset(organization=org).values("pk")[:10])
    if connection.vendor != "postgresql":
        assert rows_mine is None
        return
    # their ids inside my statement: the organization parameter still filters them out
    foreign_ids = Device.objects.filter(pk__in=[d.pk for d in theirs]).values("pk")
    assert fetch_mine(device_queryset(organization=org), foreign_ids) == []
    rows_theirs = fetch_theirs(device_queryset(organization=other_org),
                               device_queryset(organization=other_org).values("pk")[:10])
    assert sorted(r.pk for r in rows_mine) == sorted(d.pk for d in mine)
    assert sorted(r.pk for r in rows_theirs) == sorted(d.pk for d in theirs)


def test_the_inventory_and_api_pages_take_the_compiled_statements(cockpit_client, api, org):
    from devices import selectors

    DeviceFactory.create_batch(3, organization=org, platform="windows")
    selectors._PAGE_STATEMENTS.clear()
    assert cockpit_client.get(f"/o/{org.slug}/devices/", {"platform": "windows"}).status_code == 200
    assert api.get("/api/v1/devices/", {"ordering": "name"}).json()["count"] == 3
    expected = 2 if connection.vendor == "postgresql" else 0
    assert len([s for s in selectors._PAGE_STATEMENTS.values() if s is not None]) == expected


def test_page_time_strings_count_below_a_month_as_timesince_does():
    from datetime import UTC, datetime

    from django.utils import translation
    from django.utils.timesince import timesince

    from devices.views import PageTimeStrings, last_seen

    nows = [datetime(2024, 3, 1, 0, 0, 30, 5, tzinfo=UTC), datetime(2023, 3, 1, 12, tzinfo=UTC),
            datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 7, 15, 8, 30, 0, 500000, tzinfo=UTC)]
    seconds = sorted({s + e for s in (0, 59, 60, 3_599, 3_600, 86_399, 86_400, 604_799, 604_800, 2_332_800,
                                      2_419_199, 2_419_200, 2_419_201, 2_505_600, 2_678_400, 31_536_000)
                      for e in (-1, 0, 1)} | set(range(0, 2_600_000, 9_973)))
    micros = (0, 1, 499_999, 999_999)
    for language in ("en-us", "fr"):
        with translation.override(language):
            strings = PageTimeStrings()
            for now in nows:
                for s in seconds:
                    for micro in micros:
                        value = now - timedelta(seconds=s, microseconds=micro)
                        expected = f"{timesince(value, now, depth=1)} ago"
                        assert last_seen(value, now, strings) == expected, (language, now, s, micro)
                value = now + timedelta(minutes=5)  # ahead of now
                assert last_seen(value, now, strings) == f"{timesince(value, now, depth=1)} ago"


def test_inventory_validates_the_named_filters_only_and_shows_the_whole_form(cockpit_client, org):
    from unittest import mock

    from devices.filtersets import InventoryFilterSet

    GroupFactory(organization=org, name="Ops")
    url = f"/o/{org.slug}/devices/"
    validated = []
    original = InventoryFilterSet.is_valid

    def recording(self):
        validated.append((set(self.form.fields), dict(self.errors)))
        return original(self)

    with mock.patch.object(InventoryFilterSet, "is_valid", recording):
        response = cockpit_client.get(url, {"platform": "windows", "group": "Nope"})
    assert validated and validated[0][0] == {"platform", "group"} and set(validated[0][1]) == {"group"}
    assert "No device matches" in response.content.decode()
    form_html = _filters_part(response.content.decode())
    for name in ("availability_status", "assignment_status", "search", "not_seen_in_fleet", "assignee"):
        assert f'name="{name}"' in form_html, name  # every filter is shown…
    assert "Unknown group" in form_html and 'value="windows" selected' in form_html  # …with the values and errors
