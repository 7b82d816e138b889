"""The cockpit shell (cockpit/views.py, cockpit/context_processors.py): sign-in, home, tenancy and roles across
the pages, the dashboard, the top bar and the organization switcher, health."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from core.models import Employee, Group, Membership
from devices.models import Device
from tests.cockpit.pages import client_for, fleet_of_every_state, move_url, reload, url
from tests.conftest import PASSWORD, member
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory, MembershipFactory

# --- helpers and fixtures -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clear_cache():
    """Login rate limits live in the cache: every test starts (and leaves) it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fleet(org, employee, actor):
    return fleet_of_every_state(org, employee, actor)


@pytest.fixture
def viewer_client(client, org):
    return client_for(client, member(org, Membership.Role.VIEWER))


# --- sign-in --------------------------------------------------------------------------------------


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
    """Guessing spread over many accounts meets the address's own (far higher) limit; see test_login_limits."""
    settings.LOGIN_RATE_LIMIT = (3, 300)
    settings.LOGIN_ADDRESS_RATE_LIMIT = (5, 300)
    other = member(org)
    for attempt in range(5):
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


# --- anonymous users and other organizations ------------------------------------------------------


@pytest.mark.parametrize("path", ["", "devices/", "devices/export.csv", "devices/new/", "employees/", "groups/",
                                  "audit/"])
def test_anonymous_is_sent_to_login(client, org, path):
    response = client.get(f"/o/{org.slug}/{path}")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/o/{org.slug}/{path}"


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


# --- dashboard ------------------------------------------------------------------------------------


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


# --- a viewer across the pages --------------------------------------------------------------------


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


# --- organization switcher, top bar and health ----------------------------------------------------


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


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]
