"""The core's people pages (core.views): employees and groups, listed, searched, created, and who may manage them."""

import pytest
from django.urls import reverse

from core.models import AuditEvent, Employee, Group, Membership
from tests.cockpit.pages import client_for, url
from tests.conftest import member
from tests.factories import EmployeeFactory, GroupFactory

# --- helpers and fixtures -------------------------------------------------------------------------


@pytest.fixture
def technician_client(client, org):
    return client_for(client, member(org, Membership.Role.TECHNICIAN))


# --- employees ------------------------------------------------------------------------------------


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


# --- groups ---------------------------------------------------------------------------------------


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


# --- roles ----------------------------------------------------------------------------------------


def test_technician_cannot_manage_people(technician_client, org):
    assert technician_client.get(url("employee_create", org)).status_code == 403
    response = technician_client.post(url("employee_create", org), {"email": "new@acme.test"})
    assert response.status_code == 403
    assert not Employee.objects.filter(organization=org).exists()
    response = technician_client.post(url("group_list", org), {"name": "Hackers"})
    assert response.status_code == 403
    assert not Group.objects.filter(organization=org).exists()
