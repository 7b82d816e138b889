"""SCIM Groups ↔ groups and their employees, with Okta's and Entra ID's documented requests."""

from core.models import AuditEvent, Employee, Group
from tests.factories import EmployeeFactory, GroupFactory
from tests.scim import idp_requests as idp
from tests.scim.conftest import GROUP_SCHEMA, assert_scim_error, patch_body


def _members(org, group_id) -> set[str]:
    return set(Group.objects.for_org(org).get(pk=int(group_id)).employees.values_list("email", flat=True))


def test_okta_group_lifecycle(scim, org):
    ada = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada")
    bob = EmployeeFactory(organization=org, email="bob@acme.test", full_name="Bob")
    status, body = scim.post("/Groups", idp.okta_create_group())
    assert status == 201, body
    group_id = body["id"]
    assert body["displayName"] == "Test SCIMv2" and "members" not in body

    status, body = scim.patch(f"/Groups/{group_id}", idp.okta_add_members((str(ada.pk), "ada@acme.test"),
                                                                           (str(bob.pk), "bob@acme.test")))
    assert status == 200, body
    assert _members(org, group_id) == {"ada@acme.test", "bob@acme.test"}
    assert {m["value"] for m in body["members"]} == {str(ada.pk), str(bob.pk)}
    assert body["members"][0]["$ref"].startswith("http://testserver/scim/v2/Users/")

    assert scim.patch(f"/Groups/{group_id}", idp.okta_remove_member(str(ada.pk)))[0] == 200
    assert _members(org, group_id) == {"bob@acme.test"}
    assert scim.patch(f"/Groups/{group_id}", idp.okta_replace_members((str(ada.pk), "ada@acme.test")))[0] == 200
    assert _members(org, group_id) == {"ada@acme.test"}

    status, body = scim.patch(f"/Groups/{group_id}", idp.okta_rename_group(group_id))
    assert status == 200 and body["displayName"] == "Test SCIMv2 renamed"
    status, body = scim.get('/Groups?filter=displayName eq "test scimv2 renamed"&startIndex=1&count=100')
    assert body["totalResults"] == 1

    assert scim.delete(f"/Groups/{group_id}") == (204, None)
    assert not Group.objects.for_org(org).exists()
    assert Employee.objects.for_org(org).count() == 2  # a group is a label: its people stay
    sources = set(AuditEvent.objects.for_org(org).filter(
        event__in=["group.created", "group.members_changed", "group.updated", "group.deleted"]
    ).values_list("source", flat=True))
    assert sources == {"scim"}


def test_entra_group_lifecycle(scim, org):
    ada = EmployeeFactory(organization=org, email="ada@acme.test")
    status, body = scim.post("/Groups", idp.entra_create_group())
    assert status == 201, body
    group_id = body["id"]
    assert body["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    status, body = scim.get(idp.entra_group_filter("displayName"))
    assert body["totalResults"] == 1 and "members" not in body["Resources"][0]
    assert scim.get('/Groups?filter=externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"')[1]["totalResults"] == 1

    assert scim.patch(f"/Groups/{group_id}", idp.entra_add_member(str(ada.pk)))[0] == 200
    assert _members(org, group_id) == {"ada@acme.test"}
    assert scim.get(f'/Groups?filter=members[value eq "{ada.pk}"]')[1]["totalResults"] == 1
    user = scim.get(f"/Users/{ada.pk}")[1]
    assert user["groups"] == [{"value": group_id, "$ref": f"http://testserver/scim/v2/Groups/{group_id}",
                               "display": "displayName", "type": "direct"}]
    assert scim.patch(f"/Groups/{group_id}", idp.entra_remove_member(str(ada.pk)))[0] == 200
    assert _members(org, group_id) == set()
    status, body = scim.patch(f"/Groups/{group_id}", idp.ENTRA_RENAME_GROUP)
    assert status == 200 and body["displayName"].endswith("updatedDisplayName")


def test_a_taken_name_or_external_id_is_a_uniqueness_conflict(scim, org):
    GroupFactory(organization=org, name="Engineering")
    assert_scim_error(scim.post("/Groups", idp.okta_create_group("engineering")), 409, "uniqueness")
    scim.post("/Groups", idp.entra_create_group("Sales", external_id="G-1"))
    assert_scim_error(scim.post("/Groups", idp.entra_create_group("Other", external_id="G-1")), 409, "uniqueness")
    assert Group.objects.for_org(org).count() == 2


def test_unknown_members_and_nested_groups_are_refused_and_change_nothing(scim, org):
    ada = EmployeeFactory(organization=org, email="ada@acme.test")
    group_id = scim.post("/Groups", idp.okta_create_group())[1]["id"]
    other_group = scim.post("/Groups", idp.okta_create_group("Other"))[1]["id"]
    for member in ("999999", "not-an-id", other_group):
        assert_scim_error(scim.patch(f"/Groups/{group_id}", idp.entra_add_member(member)), 400, "invalidValue")
    assert_scim_error(scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": str(ada.pk), "type": "Group"}]})), 400)
    assert _members(org, group_id) == set()


def test_members_scim_cannot_see_are_kept_when_the_provider_replaces_the_list(scim, org):
    kept = scim.post("/Users", {"schemas": [idp.USER], "userName": "gone@acme.test"})[1]["id"]
    ada = EmployeeFactory(organization=org, email="ada@acme.test")
    group_id = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng",
                                     "members": [{"value": kept}]})[1]["id"]
    scim.delete(f"/Users/{kept}")  # detached from SCIM, still an employee in the group
    status, body = scim.put(f"/Groups/{group_id}", {"schemas": [GROUP_SCHEMA], "displayName": "Eng",
                                                     "members": [{"value": str(ada.pk)}]})
    assert status == 200 and [m["value"] for m in body["members"]] == [str(ada.pk)]
    assert _members(org, group_id) == {"ada@acme.test", "gone@acme.test"}


def test_listing_groups_without_members_does_not_load_them(scim, org, django_assert_max_num_queries):
    group = GroupFactory(organization=org)
    for n in range(30):
        group.employees.add(EmployeeFactory(organization=org, email=f"e{n}@acme.test"))
    with django_assert_max_num_queries(6):
        status, body = scim.get("/Groups?excludedAttributes=members")
    assert status == 200 and "members" not in body["Resources"][0]
    with django_assert_max_num_queries(7):
        assert len(scim.get("/Groups")[1]["Resources"][0]["members"]) == 30


def test_search_at_the_root_pages_across_users_and_groups(scim, org):
    for n in range(3):
        EmployeeFactory(organization=org, email=f"e{n}@acme.test")
    GroupFactory(organization=org, name="G1")
    GroupFactory(organization=org, name="G2")
    status, body = scim.get("/?startIndex=3&count=2")
    assert status == 200
    assert body["totalResults"] == 5
    assert [r.get("userName") or r.get("displayName") for r in body["Resources"]] == ["e2@acme.test", "G1"]
    status, body = scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                          "filter": 'displayName eq "G2"'})
    assert status == 200 and [r["displayName"] for r in body["Resources"]] == ["G2"]
