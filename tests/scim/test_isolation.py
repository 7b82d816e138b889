"""Tenant isolation of the SCIM endpoint: the token names the organization, so another organization's users and
groups are not found (404, in SCIM's error shape), never listed, never changed and never usable as members."""

import pytest

from core.actors import Actor
from core.errors import InvalidInput
from core.models import AuditEvent, Employee, Group
from core.services import group_set_members
from tests.conftest import token_key
from tests.factories import EmployeeFactory, GroupFactory
from tests.scim.conftest import GROUP_SCHEMA, ScimClient, assert_scim_error, patch_body, user_body
from tests.scim.idp_requests import OKTA_DEACTIVATE, entra_add_member


@pytest.fixture
def a_objects(org):
    employee = EmployeeFactory(organization=org, email="secret-a@acme.test", full_name="Acme Secret Person",
                               external_id="HR-A-1")
    group = GroupFactory(organization=org, name="Secret Group A")
    group.employees.add(employee)
    return employee, group


@pytest.fixture
def b_scim(client, other_org):
    EmployeeFactory(organization=other_org, email="bob@globex.test")
    return ScimClient(client, token_key(other_org, "write", name="Globex IdP"))


def test_b_gets_404_for_every_verb_on_a_users_and_groups(b_scim, a_objects):
    employee, group = a_objects
    for path, body in ((f"/Users/{employee.pk}", user_body("x@globex.test")),
                       (f"/Groups/{group.pk}", {"schemas": [GROUP_SCHEMA], "displayName": "x"})):
        assert_scim_error(b_scim.get(path), 404)
        assert_scim_error(b_scim.put(path, body), 404)
        assert_scim_error(b_scim.patch(path, OKTA_DEACTIVATE), 404)
        assert_scim_error(b_scim.delete(path), 404)
    employee.refresh_from_db()
    assert employee.email == "secret-a@acme.test" and employee.is_active
    assert Group.objects.filter(pk=group.pk, name="Secret Group A").exists()
    assert not AuditEvent.objects.filter(organization=employee.organization, source="scim").exists()


def test_b_lists_and_searches_show_nothing_of_a(b_scim, a_objects):
    for path in ("/Users", "/Groups", "/", '/Users?filter=userName eq "secret-a@acme.test"',
                 '/Users?filter=externalId eq "HR-A-1"', '/Groups?filter=displayName eq "Secret Group A"'):
        status, body = b_scim.get(path)
        assert status == 200, body
        text = str(body)
        for secret in ("secret-a@acme.test", "Secret Group A", "Acme Secret Person", "HR-A-1"):
            assert secret not in text, (path, secret)


def test_b_cannot_make_a_user_a_member_nor_take_a_email(b_scim, a_objects, other_org):
    employee, group = a_objects
    b_group = b_scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Globex"})[1]["id"]
    assert_scim_error(b_scim.patch(f"/Groups/{b_group}", entra_add_member(str(employee.pk))), 400, "invalidValue")
    assert not Group.objects.for_org(other_org).get(pk=int(b_group)).employees.exists()
    # The same e-mail in B is B's own employee: A's is untouched.
    status, body = b_scim.post("/Users", user_body("secret-a@acme.test"))
    assert status == 201 and body["id"] != str(employee.pk)
    assert Employee.objects.get(pk=employee.pk).organization_id == employee.organization_id


def test_the_core_service_refuses_another_organizations_employee_as_member(org, other_org):
    group = GroupFactory(organization=org)
    with pytest.raises(InvalidInput):
        group_set_members(group=group, employees=[EmployeeFactory(organization=other_org)], actor=Actor.system("t"))
    assert not group.employees.exists()


def test_b_patch_with_a_ids_in_a_filter_matches_nothing(b_scim, a_objects):
    employee, group = a_objects
    status, body = b_scim.get(f'/Groups?filter=members[value eq "{employee.pk}"]')
    assert status == 200 and body["totalResults"] == 0
    assert_scim_error(b_scim.patch(f"/Groups/{group.pk}", patch_body(
        {"op": "remove", "path": f'members[value eq "{employee.pk}"]'})), 404)
    assert group.employees.filter(pk=employee.pk).exists()
