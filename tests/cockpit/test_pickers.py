"""The filters' pickers (issue #14 §4): the lookup endpoints, the filters that take the picked id (or an e-mail / a
serial number typed without JavaScript), and links that carry no empty parameters."""

import re

import pytest
from django.urls import reverse

from core.models import Employee
from devices.models import AvailabilityStatus
from tests.conftest import member
from tests.factories import (
    DeviceFactory,
    EmployeeFactory,
    OffboardingFactory,
    PreAssignmentFactory,
    SuggestionFactory,
)


@pytest.fixture
def people(org, other_org):
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test", username="alovelace")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    gone = EmployeeFactory(organization=org, full_name="Adam Gone", email="adam@acme.test",
                           status=Employee.Status.OFFBOARDED)
    stranger = EmployeeFactory(organization=other_org, full_name="Ada Globex", email="ada@globex.test")
    return {"ada": ada, "grace": grace, "gone": gone, "stranger": stranger}


def lookup(client, org, kind, query):
    response = client.get(reverse(f"{kind}_lookup", kwargs={"org_slug": org.slug}), {"q": query})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["results"]


# --- lookups ---------------------------------------------------------------------------------


def test_employee_lookup_by_name_email_or_username_within_the_organization(cockpit_client, org, people):
    assert [r["label"] for r in lookup(cockpit_client, org, "employee", "ada")] == ["Ada Lovelace", "Adam Gone"]
    assert lookup(cockpit_client, org, "employee", "GRACE@")[0] == {
        "id": people["grace"].pk, "label": "Grace Hopper", "detail": "grace@acme.test"}
    assert [r["id"] for r in lookup(cockpit_client, org, "employee", "alovel")] == [people["ada"].pk]
    assert lookup(cockpit_client, org, "employee", str(people["grace"].pk))[0]["id"] == people["grace"].pk
    # Offboarded people are found (old cases are filtered by them), and said to be gone.
    assert lookup(cockpit_client, org, "employee", "adam")[0]["detail"] == "adam@acme.test · Offboarded"
    # Another organization's employee is never suggested, by name or by id.
    assert all(r["id"] != people["stranger"].pk for r in lookup(cockpit_client, org, "employee", "globex"))
    assert people["stranger"].pk not in [r["id"] for r in lookup(cockpit_client, org, "employee",
                                                                 str(people["stranger"].pk))]
    # What starts with the typed text comes first: "Aaron Adamson" sorts before "Ada…" but only holds "ada".
    EmployeeFactory(organization=org, full_name="Aaron Adamson", email="aaron@acme.test")
    assert [r["label"] for r in lookup(cockpit_client, org, "employee", "ada")] == [
        "Ada Lovelace", "Adam Gone", "Aaron Adamson"]


def test_device_lookup_by_name_or_serial_within_the_organization(cockpit_client, org, other_org):
    mbp = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001", platform="macos")
    DeviceFactory(organization=org, name="", serial_number="WIN0001", platform="windows")
    foreign = DeviceFactory(organization=other_org, name="ada-globex", serial_number="C02GLOBEX")
    assert lookup(cockpit_client, org, "device", "c02ada") == [
        {"id": mbp.pk, "label": "ada-mbp", "detail": "C02ADA001 · macOS"}]
    assert lookup(cockpit_client, org, "device", "win")[0]["label"] == "WIN0001"  # nameless: its serial
    assert [r["id"] for r in lookup(cockpit_client, org, "device", "ada")] == [mbp.pk]
    assert foreign.pk not in [r["id"] for r in lookup(cockpit_client, org, "device", str(foreign.pk))]


def test_lookups_answer_at_most_twenty_in_few_queries(cockpit_client, org, django_assert_max_num_queries):
    for n in range(30):
        EmployeeFactory(organization=org, full_name=f"Person {n:02d}", email=f"p{n}@acme.test")
        DeviceFactory(organization=org, name=f"laptop-{n:02d}", serial_number=f"SER{n:05d}")
    lookup(cockpit_client, org, "employee", "")  # the session and the memberships are read once and cached
    with django_assert_max_num_queries(4):
        employees = lookup(cockpit_client, org, "employee", "person")
    with django_assert_max_num_queries(4):
        devices = lookup(cockpit_client, org, "device", "")
    assert len(employees) == len(devices) == 20
    assert employees[0]["label"] == "Person 00" and devices[0]["label"] == "laptop-00"


@pytest.mark.parametrize("query", ["9" * 40, "x" * 5000, "²", "' OR 1=1 --", "%", "_", "ada\x00"])
def test_lookups_take_any_text(cockpit_client, org, people, query):
    assert isinstance(lookup(cockpit_client, org, "employee", query), list)
    assert isinstance(lookup(cockpit_client, org, "device", query), list)


def test_lookups_need_a_member_of_the_organization(client, org, other_org, people):
    url = reverse("employee_lookup", kwargs={"org_slug": org.slug})
    response = client.get(url, {"q": "ada"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(member(other_org))
    for kind in ("employee", "device"):
        assert client.get(reverse(f"{kind}_lookup", kwargs={"org_slug": org.slug}), {"q": "a"}).status_code == 404
    assert client.post(url).status_code == 404
    client.force_login(member(org))
    assert client.post(url).status_code == 405  # a read: nothing to post


# --- filters ---------------------------------------------------------------------------------


def test_inventory_filters_by_the_picked_assignee_id_or_email_and_names_it(cockpit_client, org, people, actor):
    from devices import services as device_services

    mine = device_services.device_assign(device=DeviceFactory(organization=org, name="ada-mbp"),
                                         employee=people["ada"], actor=actor)
    DeviceFactory(organization=org, name="spare-mbp")
    url = reverse("device_list", kwargs={"org_slug": org.slug})
    for value in (str(people["ada"].pk), "ADA@acme.test"):
        page = cockpit_client.get(url, {"assignee": value}).content.decode()
        assert "ada-mbp" in page and "spare-mbp" not in page, value
        assert mine.name in page
    box = re.search(r'<input[^>]*name="assignee"[^>]*>', page).group(0)
    assert 'data-picker-label="Ada Lovelace"' in box
    assert f'data-lookup-url="/o/{org.slug}/lookup/employees/"' in box
    # Another organization's employee, or a name that is nobody, is an error that says what was typed.
    page = cockpit_client.get(url, {"assignee": str(people["stranger"].pk)}).content.decode()
    assert f"No employee “{people['stranger'].pk}” in this organization." in page and "ada-mbp" not in page
    for hostile in ("ada@acme.test\x00", "9" * 40, "x" * 500):
        response = cockpit_client.get(url, {"assignee": hostile})
        assert response.status_code == 200 and "ada-mbp" not in response.content.decode()


def test_the_api_still_filters_by_id(api, org, people, actor):
    from devices import services as device_services

    device_services.device_assign(device=DeviceFactory(organization=org, name="ada-mbp"), employee=people["ada"],
                                  actor=actor)
    DeviceFactory(organization=org, name="spare-mbp")
    body = api.get(f"/api/v1/devices/?assignee={people['ada'].pk}").json()
    assert [d["name"] for d in body["results"]] == ["ada-mbp"]
    assert api.get(f"/api/v1/devices/?assignee={people['stranger'].pk}").status_code == 400


def test_feature_lists_filter_by_picked_employee_or_device(cockpit_client, org, people):
    device = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001")
    SuggestionFactory(organization=org, device=device, employee=people["ada"])
    SuggestionFactory(organization=org, device=DeviceFactory(organization=org, name="other-mbp"),
                      employee=people["grace"])
    PreAssignmentFactory(organization=org, employee=people["ada"], serial_number="PREADA001")
    PreAssignmentFactory(organization=org, employee=people["grace"], serial_number="PREGRACE01")
    OffboardingFactory(organization=org, employee=people["gone"])
    OffboardingFactory(organization=org, employee=people["grace"])

    def page(name, **params):
        response = cockpit_client.get(reverse(name, kwargs={"org_slug": org.slug}), params)
        assert response.status_code == 200
        return response.content.decode()

    for params in ({"device": device.pk}, {"device": "c02ada001"}, {"employee": people["ada"].pk}):
        listed = page("suggestion_list", **params)
        assert "ada-mbp" in listed and "other-mbp" not in listed, params
    listed = page("preassignment_list", employee="ada@acme.test")
    assert "PREADA001" in listed and "PREGRACE01" not in listed
    listed = page("offboarding_list", employee=people["gone"].pk)
    assert "Adam Gone" in listed and "Grace Hopper" not in listed
    for name in ("suggestion_list", "preassignment_list", "offboarding_list"):
        assert "(id)" not in page(name)


def test_not_seen_in_fleet_says_any_yes_no(cockpit_client, org):
    page = cockpit_client.get(reverse("device_list", kwargs={"org_slug": org.slug})).content.decode()
    select = re.search(r'<select name="not_seen_in_fleet".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "true", "false"]
    assert ">Any<" in select and "Unknown" not in select


def test_audit_filters_read_like_a_person_wrote_them(cockpit_client, org):
    page = cockpit_client.get(reverse("audit_list", kwargs={"org_slug": org.slug})).content.decode()
    labels = re.findall(r"<label>([^<]+?) <", page)
    assert labels == ["Event", "Why", "Done by", "Object", "Object id", "From", "To"]
    assert '<option value="system">A system job</option>' in page
    assert page.count('type="datetime-local"') == 2
    # What the browser's date and time picker sends filters the log (in UTC, as it shows its times).
    response = cockpit_client.get(reverse("audit_list", kwargs={"org_slug": org.slug}),
                                  {"created_after": "2000-01-01T00:00", "created_before": "2000-01-02T00:00"})
    assert response.status_code == 200 and not response.context["filter"].errors
    assert 'value="2000-01-01T00:00"' in response.content.decode()


def test_pagination_and_sorting_links_drop_empty_parameters(cockpit_client, org):
    for n in range(55):
        EmployeeFactory(organization=org, full_name=f"Person {n:02d}", email=f"p{n}@acme.test")
    response = cockpit_client.get(reverse("employee_list", kwargs={"org_slug": org.slug}),
                                  {"status": "", "group": "", "search": "person", "email": ""})
    page = response.content.decode()
    links = re.findall(r'href="(\?[^"]*)"', page)
    assert "?search=person&amp;page=2" in links
    assert not [link for link in links if re.search(r"=(&|$)", link.replace("&amp;", "&"))], links


def test_archived_devices_are_found_by_the_picker(cockpit_client, org):
    DeviceFactory(organization=org, name="old-mbp", availability_status=AvailabilityStatus.ARCHIVED,
                  assignment_status=None)
    assert lookup(cockpit_client, org, "device", "old")[0]["label"] == "old-mbp"
