"""Core API resources (DESIGN §10): employees (with upsert by external id), groups, audit events,
organization settings, and the OpenAPI schema and docs."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core import services as core_services
from core.actors import Actor
from core.models import AuditEvent, Employee, Group, Organization
from devices import services as device_services
from tests.conftest import api_client_for, assert_error, token_key
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db

EMPLOYEES = "/api/v1/employees/"
GROUPS = "/api/v1/groups/"
AUDIT = "/api/v1/audit-events/"
SETTINGS = "/api/v1/settings/"


@pytest.fixture
def other_api(other_org):
    return api_client_for(token_key(other_org, "write", name="Globex HR"))


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    return body["results"]


def emails(response) -> set[str]:
    return {row["email"] for row in results(response)}


# --- employees -------------------------------------------------------------------------------


def test_create_employee(api, org):
    GroupFactory(organization=org, name="Sales")
    response = api.post(EMPLOYEES, {
        "email": "Grace@Acme.test", "full_name": " Grace Hopper ", "username": "ghopper", "domain_name": "ACME",
        "external_id": "HR-7", "groups": ["sales"], "start_date": "2024-03-01",
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    for field in ("id", "email", "full_name", "username", "domain_name", "external_id", "status", "groups",
                  "start_date", "end_date"):
        assert field in body
    assert body["email"] == "grace@acme.test"
    assert body["full_name"] == "Grace Hopper"
    assert (body["external_id"], body["status"], body["groups"]) == ("HR-7", "active", ["Sales"])
    assert (body["start_date"], body["end_date"], body["device_count"]) == ("2024-03-01", None, 0)
    employee = Employee.objects.get(pk=body["id"])
    assert employee.organization == org
    event = AuditEvent.objects.get(event="employee.created")
    assert (event.target_id, event.actor_type) == (str(employee.pk), "token")
    assert event.after["groups"] == ["Sales"]


@pytest.mark.parametrize("email", ["ada@acme.test", "ADA@ACME.TEST", "Ada@Acme.Test"])
def test_employee_email_is_unique_per_org_case_insensitive(api, employee, email):
    assert_error(api.post(EMPLOYEES, {"email": email}, format="json"), 400, code="invalid", field="email")
    assert Employee.objects.filter(email__iexact="ada@acme.test").count() == 1


def test_same_email_allowed_in_another_org(employee, other_api, other_org):
    response = other_api.post(EMPLOYEES, {"email": "ada@acme.test"}, format="json")
    assert response.status_code == 201, response.content
    assert Employee.objects.get(pk=response.json()["id"]).organization == other_org
    assert Employee.objects.filter(email="ada@acme.test").count() == 2


def test_external_id_is_unique_per_org(api, org, other_api):
    EmployeeFactory(organization=org, external_id="HR-1")
    assert_error(api.post(EMPLOYEES, {"email": "new@acme.test", "external_id": "HR-1"}, format="json"), 400,
                 field="external_id")
    response = other_api.post(EMPLOYEES, {"email": "new@globex.test", "external_id": "HR-1"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"full_name": "No Mail"}, "email"),
        ({"email": "x@acme.test", "status": "offboarded"}, "status"),
        ({"email": "x@acme.test", "device_count": 3}, "device_count"),
        ({"email": "x@acme.test", "shoe_size": 44}, "shoe_size"),
        ({"email": "x@acme.test", "groups": ["Nope"]}, "groups"),
        ({"email": "x@acme.test", "start_date": "yesterday"}, "start_date"),
        ({"email": "x@acme.test", "start_date": "2024-05-01", "end_date": "2024-04-01"}, "end_date"),
    ],
)
def test_create_employee_refused(api, org, payload, field):
    assert_error(api.post(EMPLOYEES, payload, format="json"), 400, code="invalid", field=field)
    assert not Employee.objects.exists()


def test_update_employee(api, org, employee):
    response = api.patch(f"{EMPLOYEES}{employee.pk}/", {"full_name": "Augusta Ada King"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["full_name"] == "Augusta Ada King"
    event = AuditEvent.objects.get(event="employee.updated")
    assert event.before == {"full_name": "Ada Lovelace"}
    assert event.after == {"full_name": "Augusta Ada King"}


def test_update_employee_email_clash_is_400(api, org, employee):
    other = EmployeeFactory(organization=org, email="bob@acme.test")
    assert_error(api.patch(f"{EMPLOYEES}{other.pk}/", {"email": "ADA@acme.test"}, format="json"), 400,
                 field="email")
    other.refresh_from_db()
    assert other.email == "bob@acme.test"


def test_employee_cannot_be_deleted(api, employee):
    assert_error(api.delete(f"{EMPLOYEES}{employee.pk}/"), 405)
    assert Employee.objects.filter(pk=employee.pk).exists()


def test_other_orgs_employee_is_404(api, other_org):
    stranger = EmployeeFactory(organization=other_org)
    assert_error(api.get(f"{EMPLOYEES}{stranger.pk}/"), 404)
    assert_error(api.patch(f"{EMPLOYEES}{stranger.pk}/", {"full_name": "x"}, format="json"), 404)
    assert stranger.email not in emails(api.get(EMPLOYEES))


def test_employee_device_count_skips_archived(api, org, employee, actor):
    device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    archived = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    device_services.device_archive(device=archived, actor=actor)
    assert api.get(f"{EMPLOYEES}{employee.pk}/").json()["device_count"] == 1


@pytest.fixture
def staff(org, other_org):
    sales = GroupFactory(organization=org, name="Sales")
    ada = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace", username="alovelace",
                          external_id="HR-1")
    ada.groups.add(sales)
    bob = EmployeeFactory(organization=org, email="bob@acme.test", full_name="Bob Byte", username="bbyte",
                          external_id="HR-2", status="offboarded", offboarded_at=timezone.now())
    cy = EmployeeFactory(organization=org, email="cy@acme.test", full_name="Cy Cypher", username="ccypher")
    cy.groups.add(sales)
    EmployeeFactory(organization=other_org, email="ada@globex.test", full_name="Ada Other", external_id="HR-1")
    return {"ada": ada, "bob": bob, "cy": cy, "sales": sales}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"ada@acme.test", "bob@acme.test", "cy@acme.test"}),
        ({"email": "ADA@acme.test"}, {"ada@acme.test"}),
        ({"email": "ada@"}, set()),
        ({"status": "active"}, {"ada@acme.test", "cy@acme.test"}),
        ({"status": "offboarded"}, {"bob@acme.test"}),
        ({"group": "Sales"}, {"ada@acme.test", "cy@acme.test"}),
        ({"external_id": "HR-2"}, {"bob@acme.test"}),
        ({"external_id": "HR-9"}, set()),
        ({"search": "byte"}, {"bob@acme.test"}),
        ({"search": "ccyph"}, {"cy@acme.test"}),
        ({"search": "acme.test"}, {"ada@acme.test", "bob@acme.test", "cy@acme.test"}),
        ({"search": "hr-1"}, {"ada@acme.test"}),
        ({"status": "active", "group": "Sales", "search": "cy"}, {"cy@acme.test"}),
    ],
)
def test_employee_filters(api, staff, query, expected):
    assert emails(api.get(EMPLOYEES, query)) == expected


def test_employee_list_fields(api, staff):
    row = next(r for r in results(api.get(EMPLOYEES)) if r["email"] == "ada@acme.test")
    assert row["groups"] == ["Sales"]
    assert row["status"] == "active"
    assert row["external_id"] == "HR-1"


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "retired"}, "status"), ({"group": "Nope"}, "group"), ({"mail": "x"}, "mail"),
     ({"ordering": "salary"}, "ordering")],
)
def test_employee_bad_filter_is_400(api, staff, query, field):
    assert_error(api.get(EMPLOYEES, query), 400, field=field)


# --- employees: upsert by external id ---------------------------------------------------------


def upsert_url(external_id: str) -> str:
    return f"{EMPLOYEES}external/{external_id}/"


def test_upsert_creates_then_updates(api, org):
    first = api.put(upsert_url("HR-42"), {"email": "grace@acme.test", "full_name": "Grace"}, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["external_id"], body["email"], body["full_name"]) == ("HR-42", "grace@acme.test", "Grace")

    second = api.put(upsert_url("HR-42"), {"email": "grace@acme.test", "full_name": "Grace Hopper"}, format="json")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == body["id"]
    assert second.json()["full_name"] == "Grace Hopper"
    assert Employee.objects.filter(organization=org).count() == 1
    assert Employee.objects.get(pk=body["id"]).full_name == "Grace Hopper"
    assert list(AuditEvent.objects.order_by("id").values_list("event", flat=True).filter(
        event__startswith="employee.")) == ["employee.created", "employee.updated"]


def test_upsert_is_idempotent(api, org):
    GroupFactory(organization=org, name="Sales")
    payload = {"email": "grace@acme.test", "full_name": "Grace Hopper", "groups": ["Sales"],
               "start_date": "2024-01-15"}
    created = api.put(upsert_url("HR-42"), payload, format="json")
    assert created.status_code == 201
    audit_count = AuditEvent.objects.count()
    for _ in range(3):
        again = api.put(upsert_url("HR-42"), payload, format="json")
        assert again.status_code == 200
        assert again.json() == created.json() | {"updated_at": again.json()["updated_at"]}
    assert Employee.objects.filter(organization=org).count() == 1
    assert AuditEvent.objects.count() == audit_count  # nothing changed, nothing to audit


def test_upsert_updates_an_existing_employee_found_by_external_id(api, org):
    existing = EmployeeFactory(organization=org, external_id="HR-5", email="old@acme.test")
    response = api.put(upsert_url("HR-5"), {"email": "new@acme.test"}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == existing.pk
    existing.refresh_from_db()
    assert existing.email == "new@acme.test"


def test_upsert_key_with_surrounding_spaces_is_the_same_employee(api, org):
    first = api.put(upsert_url("%20HR-3%20"), {"email": "c@acme.test"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["external_id"] == "HR-3"
    again = api.put(upsert_url("HR-3%20"), {"email": "c@acme.test", "full_name": "Cy"}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Employee.objects.filter(organization=org).count() == 1


def test_upsert_blank_key_is_400(api):
    assert_error(api.put(upsert_url("%20%20"), {"email": "c@acme.test"}, format="json"), 400, field="external_id")
    assert not Employee.objects.exists()


def test_upsert_same_external_id_in_other_org_is_separate(api, other_api, org, other_org):
    assert api.put(upsert_url("HR-1"), {"email": "a@acme.test"}, format="json").status_code == 201
    assert other_api.put(upsert_url("HR-1"), {"email": "a@globex.test"}, format="json").status_code == 201
    assert Employee.objects.get(organization=org).email == "a@acme.test"
    assert Employee.objects.get(organization=other_org).email == "a@globex.test"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "a@acme.test", "external_id": "HR-OTHER"}, "external_id"),
        ({"full_name": "No mail"}, "email"),
        ({"email": "a@acme.test", "status": "offboarded"}, "status"),
        ({"email": "a@acme.test", "unknown": 1}, "unknown"),
    ],
)
def test_upsert_refused(api, payload, field):
    assert_error(api.put(upsert_url("HR-1"), payload, format="json"), 400, field=field)
    assert not Employee.objects.exists()


def test_upsert_email_clash_is_400(api, employee):
    assert_error(api.put(upsert_url("HR-9"), {"email": "ADA@acme.test"}, format="json"), 400, field="email")
    assert Employee.objects.count() == 1


def test_upsert_needs_write_token(read_api):
    assert_error(read_api.put(upsert_url("HR-1"), {"email": "a@acme.test"}, format="json"), 403)
    assert not Employee.objects.exists()


# --- groups ----------------------------------------------------------------------------------


def test_group_crud(api, org, employee):
    created = api.post(GROUPS, {"name": " Sales ", "description": "Sales team"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["description"], body["employee_count"], body["device_count"]) == (
        "Sales", "Sales team", 0, 0)
    url = f"{GROUPS}{body['id']}/"
    group = Group.objects.get(pk=body["id"])
    assert group.organization == org

    employee.groups.add(group)
    DeviceFactory(organization=org).groups.add(group)
    fetched = api.get(url).json()
    assert (fetched["employee_count"], fetched["device_count"]) == (1, 1)
    assert [row["name"] for row in results(api.get(GROUPS))] == ["Sales"]

    patched = api.patch(url, {"description": "Everyone who sells"}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["description"]) == ("Sales", "Everyone who sells")
    put = api.put(url, {"name": "Sales EMEA", "description": ""}, format="json")
    assert put.status_code == 200
    assert Group.objects.get(pk=group.pk).name == "Sales EMEA"

    deleted = api.delete(url)
    assert deleted.status_code == 204
    assert not Group.objects.filter(pk=group.pk).exists()
    assert_error(api.get(url), 404)
    events = list(AuditEvent.objects.filter(target_type="cockpit.group").order_by("id").values_list("event", flat=True))
    assert events == ["group.created", "group.updated", "group.updated", "group.deleted"]


@pytest.mark.parametrize("name", ["Sales", "sales", "SALES", "  Sales  "])
def test_group_name_unique_case_insensitive(api, org, name):
    GroupFactory(organization=org, name="Sales")
    assert_error(api.post(GROUPS, {"name": name}, format="json"), 400, code="invalid", field="name")
    assert Group.objects.filter(organization=org).count() == 1


def test_group_rename_to_existing_name_is_400(api, org):
    GroupFactory(organization=org, name="Sales")
    ops = GroupFactory(organization=org, name="Ops")
    assert_error(api.patch(f"{GROUPS}{ops.pk}/", {"name": "SALES"}, format="json"), 400, field="name")
    assert Group.objects.get(pk=ops.pk).name == "Ops"
    # Changing only the case of its own name is fine.
    assert api.patch(f"{GROUPS}{ops.pk}/", {"name": "OPS"}, format="json").json()["name"] == "OPS"


def test_group_same_name_in_other_org_allowed(api, other_org):
    GroupFactory(organization=other_org, name="Sales")
    assert api.post(GROUPS, {"name": "Sales"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": ""}, "name"), ({"name": "   "}, "name"), ({}, "name"), ({"name": "x", "employee_count": 2},
                                                                      "employee_count"),
     ({"name": "x", "colour": "red"}, "colour"), ({"name": "x" * 151}, "name")],
)
def test_group_create_refused(api, payload, field):
    assert_error(api.post(GROUPS, payload, format="json"), 400, field=field)
    assert not Group.objects.exists()


def test_group_filters(api, org, other_org):
    for name in ("Sales", "Sales EMEA", "Ops"):
        GroupFactory(organization=org, name=name)
    GroupFactory(organization=other_org, name="Sales APAC")
    assert [r["name"] for r in results(api.get(GROUPS))] == ["Ops", "Sales", "Sales EMEA"]
    assert [r["name"] for r in results(api.get(GROUPS, {"name": "sales"}))] == ["Sales"]
    assert [r["name"] for r in results(api.get(GROUPS, {"search": "sal"}))] == ["Sales", "Sales EMEA"]
    assert_error(api.get(GROUPS, {"colour": "red"}), 400, field="colour")


def test_other_orgs_group_is_404(api, other_org):
    foreign = GroupFactory(organization=other_org, name="Foreign")
    url = f"{GROUPS}{foreign.pk}/"
    assert_error(api.get(url), 404)
    assert_error(api.patch(url, {"name": "Mine"}, format="json"), 404)
    assert_error(api.delete(url), 404)
    assert Group.objects.get(pk=foreign.pk).name == "Foreign"


def test_read_token_cannot_write_groups(read_api, org):
    group = GroupFactory(organization=org, name="Sales")
    assert read_api.get(GROUPS).status_code == 200
    assert_error(read_api.post(GROUPS, {"name": "Ops"}, format="json"), 403, code="permission_denied")
    assert_error(read_api.delete(f"{GROUPS}{group.pk}/"), 403)
    assert list(Group.objects.values_list("name", flat=True)) == ["Sales"]


# --- audit events ----------------------------------------------------------------------------


def test_audit_events_of_own_org_only(api, org, other_org):
    api.post(GROUPS, {"name": "Sales"}, format="json", HTTP_X_REQUEST_ID="req-abc-123")
    core_services.group_create(organization=other_org, name="Secret", actor=Actor.system("tests"))
    rows = results(api.get(AUDIT))
    assert rows, "the org's own events are listed"
    assert all(row["target"]["label"] != "Secret" for row in rows)
    assert {row["event"] for row in rows} >= {"group.created", "api_token.created"}
    own_ids = set(AuditEvent.objects.filter(organization=org).values_list("pk", flat=True))
    assert {row["id"] for row in rows} == own_ids

    group_event = next(row for row in rows if row["event"] == "group.created")
    assert set(group_event) >= {"id", "created_at", "event", "sentence", "source", "actor", "target", "before",
                                "after", "request_id"}
    assert group_event["actor"] == {"type": "token", "label": "API token “HR tool”"}
    assert group_event["target"]["type"] == "cockpit.group"
    assert group_event["target"]["label"] == "Sales"
    assert group_event["after"] == {"name": "Sales"}
    assert group_event["request_id"] == "req-abc-123"
    assert "Sales" in group_event["sentence"]


def test_other_orgs_audit_event_is_404(api, other_org):
    group = core_services.group_create(organization=other_org, name="Secret", actor=Actor.system("tests"))
    event = AuditEvent.objects.get(target_id=str(group.pk), event="group.created")
    assert_error(api.get(f"{AUDIT}{event.pk}/"), 404)


@pytest.fixture
def history(org, api, employee, actor):
    device = DeviceFactory(organization=org, name="dev-1")
    device_services.device_assign(device=device, employee=employee, actor=actor)
    api.post(f"/api/v1/devices/{device.pk}/archive/", {"wipe": True}, format="json")
    core_services.group_create(organization=org, name="Ops", actor=Actor.system("nightly"))
    return device


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"event": "device.archived"}, ["device.archived"]),
        ({"event": "device.assigned"}, ["device.assigned"]),
        ({"source": "api"}, ["device.archived"]),
        ({"actor_type": "user"}, ["device.assigned"]),
        ({"actor_type": "system"}, ["group.created", "api_token.created"]),
        ({"target_type": "cockpit.group"}, ["group.created"]),
        ({"target_type": "devices.device", "source": "manual"}, ["device.assigned"]),
    ],
)
def test_audit_event_filters(api, history, query, expected):
    assert [row["event"] for row in results(api.get(AUDIT, query))] == expected


def test_audit_event_filter_by_target_and_time(api, history):
    rows = results(api.get(AUDIT, {"target_type": "devices.device", "target_id": str(history.pk)}))
    assert [row["event"] for row in rows] == ["device.archived", "device.assigned"]
    assert rows[0]["after"]["wipe_requested"] is True
    assert "(wipe requested)" in rows[0]["sentence"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert results(api.get(AUDIT, {"created_after": future})) == []
    assert len(results(api.get(AUDIT, {"created_after": past}))) == AuditEvent.objects.filter(
        organization=history.organization).count()
    assert results(api.get(AUDIT, {"created_before": past})) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"actor_type": "robot"}, "actor_type"), ({"created_after": "last tuesday"}, "created_after"),
     ({"who": "me"}, "who")],
)
def test_audit_event_bad_filter_is_400(api, history, query, field):
    assert_error(api.get(AUDIT, query), 400, field=field)


def test_audit_events_are_read_only(api, read_api, history):
    assert read_api.get(AUDIT).status_code == 200
    count = AuditEvent.objects.count()
    assert_error(api.post(AUDIT, {"event": "device.archived"}, format="json"), 405)
    event = AuditEvent.objects.filter(organization=history.organization).first()
    assert_error(api.delete(f"{AUDIT}{event.pk}/"), 405)
    assert_error(api.patch(f"{AUDIT}{event.pk}/", {"event": "x"}, format="json"), 405)
    assert AuditEvent.objects.count() == count


# --- settings --------------------------------------------------------------------------------


def test_settings_get(api, read_api, org):
    for client in (api, read_api):
        response = client.get(SETTINGS)
        assert response.status_code == 200
        assert response.json() == {
            "slug": "acme", "name": "Acme", "assignment_suggestion_mode": "off", "offline_threshold_days": 7,
            "agent_inactive_threshold_hours": 24, "auto_unenroll_enabled": False, "auto_unenroll_after_days": 30,
            "auto_unenroll_reinvite": True, "auto_unenroll_action": "delete_host",
            "auto_unenroll_max_share_percent": 10, "suggestion_confidence_threshold": 0.9,
            "invite_employees_on_create": False, "offboarding_default_action": "return_to_stock",
            "offboarding_hold_until_wipe": False, "language": "",
        }


def test_settings_patch(api, org, other_org):
    response = api.patch(SETTINGS, {"assignment_suggestion_mode": "auto", "offline_threshold_days": 14,
                                    "auto_unenroll_enabled": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["assignment_suggestion_mode"], body["offline_threshold_days"], body["auto_unenroll_enabled"]) == (
        "auto", 14, True)
    org.refresh_from_db()
    assert (org.assignment_suggestion_mode, org.offline_threshold_days, org.auto_unenroll_enabled) == (
        "auto", 14, True)
    assert org.agent_inactive_threshold_hours == 24  # untouched
    other_org.refresh_from_db()
    assert (other_org.assignment_suggestion_mode, other_org.offline_threshold_days) == ("off", 7)
    event = AuditEvent.objects.get(event="organization.settings_updated")
    assert event.organization == org
    assert event.before == {"assignment_suggestion_mode": "off", "offline_threshold_days": 7,
                            "auto_unenroll_enabled": False}
    assert event.after == {"assignment_suggestion_mode": "auto", "offline_threshold_days": 14,
                           "auto_unenroll_enabled": True}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"assignment_suggestion_mode": "sometimes"}, "assignment_suggestion_mode"),
        ({"offline_threshold_days": -1}, "offline_threshold_days"),
        ({"offline_threshold_days": "a week"}, "offline_threshold_days"),
        ({"auto_unenroll_after_days": 10**20}, "auto_unenroll_after_days"),  # out of range on every DB
        ({"auto_unenroll_enabled": "perhaps"}, "auto_unenroll_enabled"),
        ({"slug": "hijack"}, "slug"),
        ({"name": "New name"}, "name"),
        ({"fleet_token": "secret"}, "fleet_token"),
    ],
)
def test_settings_invalid_value_is_400(api, org, payload, field):
    before = Organization.objects.filter(pk=org.pk).values().get()
    assert_error(api.patch(SETTINGS, payload, format="json"), 400, code="invalid", field=field)
    assert Organization.objects.filter(pk=org.pk).values().get() == before
    assert not AuditEvent.objects.filter(event="organization.settings_updated").exists()


def test_settings_read_token_cannot_patch(read_api, org):
    body = assert_error(read_api.patch(SETTINGS, {"offline_threshold_days": 3}, format="json"), 403,
                        code="permission_denied")
    assert "read-only" in body["detail"]
    org.refresh_from_db()
    assert org.offline_threshold_days == 7


def test_settings_needs_a_token(client):
    assert_error(client.get(SETTINGS), 401)
    assert_error(client.patch(SETTINGS, {"offline_threshold_days": 3}, content_type="application/json"), 401)


def test_settings_put_is_not_offered(api):
    assert_error(api.put(SETTINGS, {"offline_threshold_days": 3}, format="json"), 405)


# --- schema and docs -------------------------------------------------------------------------


def test_openapi_schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/devices/" in response.content

    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)
    paths = schema["paths"]
    for path in (
        "/api/v1/devices/", "/api/v1/devices/{id}/", "/api/v1/devices/{id}/assign/",
        "/api/v1/devices/{id}/reassign/", "/api/v1/devices/{id}/unassign/", "/api/v1/devices/{id}/return-to-stock/",
        "/api/v1/devices/{id}/archive/", "/api/v1/devices/{id}/restore/", "/api/v1/devices/{id}/history/",
        "/api/v1/employees/", "/api/v1/employees/external/{external_id}/", "/api/v1/groups/",
        "/api/v1/audit-events/", "/api/v1/settings/",
    ):
        assert path in paths, path
    list_params = {p["name"] for p in paths["/api/v1/devices/"]["get"]["parameters"]}
    assert list_params >= {"availability_status", "assignment_status", "enrollment_status", "enrollment_issue",
                           "platform", "assignee", "assignee_email", "group", "serial_number", "search",
                           "ordering", "page", "page_size"}
    assert "post" in paths["/api/v1/devices/{id}/assign/"]
    assert "put" not in paths["/api/v1/devices/{id}/"]
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_api_docs_are_self_hosted(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "swagger-ui" in html.lower()
    for cdn in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html, cdn


@pytest.mark.parametrize("field,value", [("offline_threshold_days", 0), ("offline_threshold_days", 366),
                                         ("agent_inactive_threshold_hours", 0), ("auto_unenroll_after_days", 0)])
def test_settings_thresholds_outside_product_bounds_are_400(api, org, field, value):
    response = api.patch("/api/v1/settings/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    org.refresh_from_db()
    assert getattr(org, field) != value
