"""``/api/v1/devices/`` (DESIGN §10): list and filters, pagination, create, edit, the status moves,
history, and one error shape for every error. Tenant isolation, token scopes and the list's query count:
``test_api_cases.py``."""

import pytest
from django.utils import timezone

from core.actors import Actor
from core.models import AuditEvent
from devices import services
from devices.models import Device, DeviceHistory
from tests.conftest import assert_error
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/devices/"


def detail(device) -> str:
    return f"{LIST}{device.pk}/"


def action(device, verb) -> str:
    return f"{LIST}{device.pk}/{verb}/"


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def device_row(device) -> dict:
    return Device.objects.filter(pk=device.pk).values().get()


# --- the list and its filters ----------------------------------------------------------------


@pytest.fixture
def fleet(org, other_org, employee, actor):
    """Four devices of ``org`` in different states, and one of another organization."""
    sales = GroupFactory(organization=org, name="Sales")
    ops = GroupFactory(organization=org, name="Ops")
    bob = EmployeeFactory(organization=org, full_name="Bob Byte", email="bob@acme.test")

    alpha = DeviceFactory(organization=org, name="alpha-mbp", serial_number="C02AAA001", platform="macos")
    alpha.groups.add(sales)

    bravo = DeviceFactory(organization=org, name="bravo-pc", serial_number="WIN0002", platform="windows",
                          mdm_enrolled_at=timezone.now())
    bravo.groups.add(ops, sales)
    bravo = services.device_assign(device=bravo, employee=employee, actor=actor)

    charlie = DeviceFactory(organization=org, name="charlie-box", serial_number="LNX0003", platform="linux",
                            availability_status="in_use", mdm_enrolled_at=timezone.now(),
                            enrollment_issues=["agent_missing", "offline"], enrollment_status="partially_enrolled")
    delta = DeviceFactory(organization=org, name="delta-phone", serial_number="IOS0004", platform="ios")
    delta = services.device_archive(device=delta, actor=actor)
    echo = DeviceFactory(organization=org, name="echo-mbp", serial_number="C02EEE005", platform="macos",
                         enrollment_issues=["agent_inactive"], enrollment_status="partially_enrolled")
    echo = services.device_assign(device=echo, employee=bob, actor=actor)

    foreign = DeviceFactory(organization=other_org, name="foreign-mbp", serial_number="C02AAA001", platform="macos")
    return {"alpha": alpha, "bravo": bravo, "charlie": charlie, "delta": delta, "echo": echo,
            "foreign": foreign, "sales": sales, "ops": ops, "bob": bob}


ALL = {"alpha-mbp", "bravo-pc", "charlie-box", "delta-phone", "echo-mbp"}


def test_list_shows_own_devices_with_documented_fields(api, fleet, employee):
    response = api.get(LIST)
    assert names(response) == ALL
    body = response.json()
    assert body["count"] == 5
    bravo = next(row for row in body["results"] if row["name"] == "bravo-pc")
    for field in ("id", "serial_number", "name", "platform", "model", "availability_status", "assignment_status",
                  "enrollment_status", "enrollment_issues", "assignee", "groups", "ownership", "usage",
                  "last_seen_at", "fleet_host_id"):
        assert field in bravo
    assert bravo["assignee"] == {"id": employee.pk, "email": employee.email, "name": "Ada Lovelace"}
    assert sorted(bravo["groups"]) == ["Ops", "Sales"]
    assert (bravo["availability_status"], bravo["assignment_status"]) == ("in_use", "assigned")
    assert bravo["enrollment_status"] == "enrolled"
    delta = next(row for row in body["results"] if row["name"] == "delta-phone")
    assert (delta["availability_status"], delta["assignment_status"], delta["assignee"]) == ("archived", None, None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("availability_status=in_stock", {"alpha-mbp"}),
        ("availability_status=in_use", {"bravo-pc", "charlie-box", "echo-mbp"}),
        ("availability_status=archived", {"delta-phone"}),
        ("assignment_status=assigned", {"bravo-pc", "echo-mbp"}),
        ("assignment_status=to_assign", {"alpha-mbp", "charlie-box"}),
        ("enrollment_status=enrolled", {"bravo-pc"}),
        ("enrollment_status=partially_enrolled", {"charlie-box", "echo-mbp"}),
        ("enrollment_status=awaiting_activation", {"alpha-mbp", "delta-phone"}),
        ("enrollment_issue=agent_missing", {"charlie-box"}),
        ("enrollment_issue=offline", {"charlie-box"}),
        ("enrollment_issue=agent_inactive", {"echo-mbp"}),
        ("enrollment_issue=other_mdm", set()),
        ("platform=macos", {"alpha-mbp", "echo-mbp"}),
        ("platform=windows", {"bravo-pc"}),
        ("platform=android", set()),
        ("assignee_email=ADA@acme.test", {"bravo-pc"}),
        ("assignee_email=bob@acme.test", {"echo-mbp"}),
        ("assignee_email=nobody@acme.test", set()),
        ("group=Sales", {"alpha-mbp", "bravo-pc"}),
        ("group=Ops", {"bravo-pc"}),
        ("serial_number=C02AAA001", {"alpha-mbp"}),
        ("serial_number=%20c02aaa001%20", {"alpha-mbp"}),
        ("serial_number=C02AAA", set()),
        ("search=mbp", {"alpha-mbp", "echo-mbp"}),
        ("search=lnx0003", {"charlie-box"}),
        ("search=lovelace", {"bravo-pc"}),
        ("search=bob@acme", {"echo-mbp"}),
        ("search=", ALL),
        ("platform=macos&assignment_status=assigned", {"echo-mbp"}),
        ("availability_status=in_use&enrollment_issue=offline&group=Sales", set()),
    ],
)
def test_list_filters(api, fleet, query, expected):
    assert names(api.get(f"{LIST}?{query}")) == expected


def test_list_filter_by_assignee_id(api, fleet, employee):
    assert names(api.get(LIST, {"assignee": employee.pk})) == {"bravo-pc"}
    assert names(api.get(LIST, {"assignee": fleet["bob"].pk})) == {"echo-mbp"}


def test_group_filter_gives_each_device_once(api, fleet):
    response = api.get(LIST, {"group": "Sales"})
    ids = [row["id"] for row in response.json()["results"]]
    assert len(ids) == len(set(ids)) == response.json()["count"] == 2


def test_group_filter_is_case_insensitive_like_every_group_write(api, org, device):
    device.groups.add(GroupFactory(organization=org, name="Engineering"))
    response = api.get("/api/v1/devices/", {"group": "engineering"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [device.pk]


def test_group_filter_with_an_unknown_group_is_400_naming_it(api, device):
    assert_error(api.get("/api/v1/devices/", {"group": "Nope"}), 400, field="group")


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["alpha-mbp", "bravo-pc", "charlie-box", "delta-phone", "echo-mbp"]),
        ("-name", ["echo-mbp", "delta-phone", "charlie-box", "bravo-pc", "alpha-mbp"]),
        ("serial_number", ["alpha-mbp", "echo-mbp", "delta-phone", "charlie-box", "bravo-pc"]),
        ("platform,name", ["delta-phone", "charlie-box", "alpha-mbp", "echo-mbp", "bravo-pc"]),
    ],
)
def test_list_ordering(api, fleet, ordering, expected):
    response = api.get(LIST, {"ordering": ordering})
    assert [row["name"] for row in response.json()["results"]] == expected


def test_list_default_order_is_newest_first(api, fleet):
    ids = [row["id"] for row in api.get(LIST).json()["results"]]
    assert ids == sorted(ids, reverse=True)


def test_list_ordering_by_assignee(api, fleet):
    rows = api.get(LIST, {"ordering": "assignee", "assignment_status": "assigned"}).json()["results"]
    assert [row["assignee"]["name"] for row in rows] == ["Ada Lovelace", "Bob Byte"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"platform": "amiga"}, "platform"),
        ({"availability_status": "lost"}, "availability_status"),
        ({"assignment_status": "maybe"}, "assignment_status"),
        ({"enrollment_status": "half"}, "enrollment_status"),
        ({"enrollment_issue": "gremlins"}, "enrollment_issue"),
        ({"assignee": "999999"}, "assignee"),
        ({"assignee": "abc"}, "assignee"),
        ({"group": "Nobody"}, "group"),
        ({"ordering": "password"}, "ordering"),
    ],
)
def test_list_unknown_filter_value_is_400_naming_the_field(api, fleet, query, field):
    assert_error(api.get(LIST, query), 400, code="invalid", field=field)


def test_list_filters_do_not_reach_other_organizations(api, fleet, other_org):
    stranger = EmployeeFactory(organization=other_org)
    GroupFactory(organization=other_org, name="Foreign group")
    assert_error(api.get(LIST, {"assignee": stranger.pk}), 400, field="assignee")
    assert_error(api.get(LIST, {"group": "Foreign group"}), 400, field="group")
    assert names(api.get(LIST, {"search": "foreign"})) == set()


@pytest.mark.parametrize("param", ["platfrom", "owner", "limit"])
def test_list_unknown_query_parameter_is_400_naming_it(api, fleet, param):
    body = assert_error(api.get(LIST, {param: "macos"}), 400, code="invalid", field=param)
    assert param in body["detail"]


# --- pagination ------------------------------------------------------------------------------


def test_pagination(api, org):
    DeviceFactory.create_batch(7, organization=org)
    first = api.get(LIST, {"page_size": 3, "ordering": "id"}).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 7
    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=3" in first["next"]

    second = api.get(first["next"]).json()
    assert len(second["results"]) == 3
    assert second["previous"] is not None and second["next"] is not None

    last = api.get(second["next"]).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    seen = [row["id"] for page in (first, second, last) for row in page["results"]]
    assert seen == sorted(seen) and len(set(seen)) == 7


def test_pagination_default_page_size_and_maximum(api, org):
    Device.objects.bulk_create(
        Device(organization=org, serial_number=f"BULK{n:05d}", name=f"bulk-{n}") for n in range(502)
    )
    body = api.get(LIST).json()
    assert body["count"] == 502
    assert len(body["results"]) == 50  # the default page
    assert "page=2" in body["next"]
    body = api.get(LIST, {"page_size": 500}).json()
    assert len(body["results"]) == 500  # the largest page
    assert body["next"] is not None
    assert_error(api.get(LIST, {"page_size": 100000}), 400, field="page_size")  # refused, never capped silently


def test_page_out_of_range_is_404_with_error_shape(api, org):
    DeviceFactory.create_batch(2, organization=org)
    assert_error(api.get(LIST, {"page": 9}), 404)


# --- create and edit -------------------------------------------------------------------------


def test_create_device(api, org):
    GroupFactory(organization=org, name="Sales")
    response = api.post(LIST, {"serial_number": " c02new001 ", "name": "new-mbp", "platform": "macos",
                               "model": "MacBook Air", "groups": ["sales"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["serial_number"] == "C02NEW001"
    assert (body["availability_status"], body["assignment_status"]) == ("in_stock", "to_assign")
    assert body["enrollment_status"] == "awaiting_activation"
    assert body["assignee"] is None
    assert body["groups"] == ["Sales"]
    device = Device.objects.get(pk=body["id"])
    assert device.organization == org
    history = DeviceHistory.objects.get(device=device)
    assert (history.action, history.source) == ("created", "api")
    audit = AuditEvent.objects.get(event="device.created", target_id=str(device.pk))
    assert (audit.actor_type, audit.source) == ("token", "api")


def test_create_duplicate_serial_is_400_on_serial_number(api, device):
    body = assert_error(api.post(LIST, {"serial_number": "c02ada001", "name": "dup"}, format="json"), 400,
                        code="invalid", field="serial_number")
    assert "C02ADA001" in body["detail"]
    assert Device.objects.count() == 1


def test_create_same_serial_as_another_org_is_allowed(api, other_org):
    DeviceFactory(organization=other_org, serial_number="C02TWIN01")
    assert api.post(LIST, {"serial_number": "C02TWIN01"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "availability_status": "in_use"}, "availability_status"),
        ({"name": "x", "assignee": 1}, "assignee"),
        ({"name": "x", "colour": "space grey"}, "colour"),
        ({"name": "x", "platform": "amiga"}, "platform"),
        ({"name": "x", "groups": ["Nope"]}, "groups"),
        ({"name": ["not", "a", "string"]}, "name"),
        ({"name": "x", "groups": "Sales"}, "groups"),
        ({"name": "x", "platform": 5}, "platform"),
        ({}, "serial_number"),
    ],
)
def test_create_refused_is_400_naming_the_field(api, org, payload, field):
    assert_error(api.post(LIST, payload, format="json"), 400, code="invalid", field=field)
    assert not Device.objects.exists()


def test_patch_descriptive_fields(api, org, device):
    GroupFactory(organization=org, name="Ops")
    response = api.patch(detail(device), {"name": "renamed", "model": "MacBook Air", "notes": "dent on lid",
                                          "serial_number": " c02ada999", "groups": ["Ops"], "usage": "shared"},
                         format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["model"], body["notes"], body["serial_number"]) == (
        "renamed", "MacBook Air", "dent on lid", "C02ADA999")
    assert body["groups"] == ["Ops"]
    fresh = Device.objects.get(pk=device.pk)
    assert (fresh.name, fresh.usage, fresh.availability_status) == ("renamed", "shared", "in_stock")
    event = AuditEvent.objects.get(event="device.updated")
    assert event.actor_type == "token"
    assert event.after["name"] == "renamed"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("availability_status", "archived"),
        ("assignment_status", "assigned"),
        ("enrollment_status", "enrolled"),
        ("enrollment_issues", []),
        ("version", 99),
        ("id", 12345),
        ("fleet_host_id", 7),
        ("archived_at", "2024-01-01T00:00:00Z"),
        ("assignee", {"id": 1}),
    ],
)
def test_patch_read_only_field_is_400_naming_it(api, device, field, value):
    before = device_row(device)
    body = assert_error(api.patch(detail(device), {field: value}, format="json"), 400, code="invalid", field=field)
    assert body["fields"][field] == ["This field is read-only."]
    assert device_row(device) == before


def test_patch_unknown_field_is_400_naming_it(api, device):
    before = device_row(device)
    body = assert_error(api.patch(detail(device), {"name": "x", "colour": "red"}, format="json"), 400,
                        field="colour")
    assert body["fields"] == {"colour": ["Unknown field."]}
    assert device_row(device) == before


def test_patch_duplicate_serial_is_400(api, org, device):
    other = DeviceFactory(organization=org, serial_number="C02OTHER1")
    before = device_row(other)
    assert_error(api.patch(detail(other), {"serial_number": "C02ADA001"}, format="json"), 400,
                 field="serial_number")
    assert device_row(other) == before


def test_patch_that_would_blank_serial_and_name_is_refused(api, device):
    response = api.patch(detail(device), {"serial_number": "", "name": ""}, format="json")
    assert_error(response, 400, field="serial_number")
    device.refresh_from_db()
    assert device.serial_number == "C02ADA001"


def test_malformed_json_is_400_with_error_shape(api, device):
    body = assert_error(api.post(LIST, data='{"name": "x",', content_type="application/json"), 400)
    assert body["code"] == "parse_error"
    assert_error(api.post(action(device, "archive"), data="{wipe: true}", content_type="application/json"), 400)
    assert Device.objects.get(pk=device.pk).availability_status == "in_stock"


def test_body_that_is_not_an_object_is_400(api, device):
    assert_error(api.post(LIST, [{"name": "x"}], format="json"), 400, code="invalid")
    assert_error(api.post(action(device, "archive"), [1, 2], format="json"), 400, code="invalid")


# --- status moves ----------------------------------------------------------------------------


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Byte", email="bob@acme.test")


def last_history(device) -> DeviceHistory:
    return DeviceHistory.objects.filter(device=device).order_by("-id").first()


def test_assign_by_id(api, device, employee):
    response = api.post(action(device, "assign"), {"employee": employee.pk, "reason": "new laptop"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["availability_status"], body["assignment_status"]) == ("in_use", "assigned")
    assert body["assignee"] == {"id": employee.pk, "email": "ada@acme.test", "name": "Ada Lovelace"}
    assert body["version"] == device.version + 1
    history = last_history(device)
    assert (history.action, history.source, history.reason) == ("assigned", "api", "new laptop")
    assert history.actor_label == "API token “HR tool”"
    audit = AuditEvent.objects.get(event="device.assigned")
    assert (audit.actor_type, audit.source, audit.after["assignee"]) == ("token", "api", employee.email)


@pytest.mark.parametrize("ref", ["ada@acme.test", "ADA@Acme.Test", "  ada@acme.test "])
def test_assign_by_email(api, device, employee, ref):
    response = api.post(action(device, "assign"), {"employee": ref}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["id"] == employee.pk


def test_assign_by_id_as_string(api, device, employee):
    response = api.post(action(device, "assign"), {"employee": str(employee.pk)}, format="json")
    assert response.status_code == 200
    assert Device.objects.get(pk=device.pk).assignee == employee


@pytest.mark.parametrize(
    "ref", ["nobody@acme.test", "999999", "", "²", "٣", "not an email", "99999999999999999999999", "-5", "1.5"]
)
def test_assign_unknown_employee_is_400(api, device, ref):
    before = device_row(device)
    assert_error(api.post(action(device, "assign"), {"employee": ref}, format="json"), 400, field="employee")
    assert device_row(device) == before


def test_assign_needs_an_employee(api, device):
    assert_error(api.post(action(device, "assign"), {}, format="json"), 400, field="employee")


def test_assign_employee_of_another_org_is_400(api, device, other_org):
    stranger = EmployeeFactory(organization=other_org, email="eve@globex.test")
    for ref in (stranger.pk, stranger.email):
        assert_error(api.post(action(device, "assign"), {"employee": ref}, format="json"), 400, field="employee")
    assert Device.objects.get(pk=device.pk).assignee is None


def test_assign_offboarded_employee_is_400(api, org, device):
    gone = EmployeeFactory(organization=org, status="offboarded")
    body = assert_error(api.post(action(device, "assign"), {"employee": gone.pk}, format="json"), 400,
                        field="employee")
    assert "offboarded" in body["detail"]
    assert not DeviceHistory.objects.filter(device=device).exists()


def test_reassign_with_wipe(api, assigned_device, employee, bob):
    response = api.post(action(assigned_device, "reassign"), {"employee": bob.email, "wipe": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["email"] == bob.email
    history = last_history(assigned_device)
    assert (history.action, history.wipe_requested) == ("reassigned", True)
    assert (history.assignee_before, history.assignee_after) == (employee, bob)
    assert AuditEvent.objects.get(event="device.reassigned").after["wipe_requested"] is True


def test_reassign_to_same_employee_is_400(api, assigned_device, employee):
    assert_error(api.post(action(assigned_device, "reassign"), {"employee": employee.pk}, format="json"), 400,
                 field="employee")


@pytest.mark.parametrize("wipe", [True, False])
def test_unassign(api, assigned_device, wipe):
    response = api.post(action(assigned_device, "unassign"), {"wipe": wipe}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["availability_status"], body["assignment_status"], body["assignee"]) == ("in_use", "to_assign", None)
    assert last_history(assigned_device).wipe_requested is wipe


def test_unassign_without_body(api, assigned_device):
    response = api.post(action(assigned_device, "unassign"))
    assert response.status_code == 200, response.content
    assert last_history(assigned_device).wipe_requested is False


def test_return_to_stock_with_wipe(api, assigned_device):
    response = api.post(action(assigned_device, "return-to-stock"), {"wipe": True, "reason": "left"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["availability_status"], response.json()["assignee"]) == ("in_stock", None)
    history = last_history(assigned_device)
    assert (history.action, history.wipe_requested, history.reason) == ("returned_to_stock", True, "left")


def test_archive_with_wipe_then_restore(api, assigned_device):
    response = api.post(action(assigned_device, "archive"), {"wipe": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["availability_status"], body["assignment_status"], body["assignee"]) == ("archived", None, None)
    assert body["archived_at"] is not None
    assert last_history(assigned_device).wipe_requested is True
    assert AuditEvent.objects.get(event="device.archived").after["wipe_requested"] is True

    response = api.post(action(assigned_device, "restore"), {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["availability_status"], body["assignment_status"], body["archived_at"]) == (
        "in_stock", "to_assign", None)
    assert last_history(assigned_device).action == "restored"


@pytest.mark.parametrize("verb", ["assign", "restore"])
def test_wipe_is_refused_where_not_offered(api, org, employee, verb):
    device = DeviceFactory(organization=org)
    if verb == "restore":
        device = services.device_archive(device=device, actor=Actor.system("tests"))
    before = device_row(device)
    payload = {"wipe": True} | ({"employee": employee.pk} if verb == "assign" else {})
    assert_error(api.post(action(device, verb), payload, format="json"), 400, field="wipe")
    assert device_row(device) == before


@pytest.mark.parametrize(
    ("verb", "payload", "field"),
    [
        ("archive", {"wipe": "perhaps"}, "wipe"),
        ("archive", {"version": "two"}, "version"),
        ("archive", {"version": 0}, "version"),
        ("archive", {"force": True}, "force"),
        ("unassign", {"reason": "x" * 501}, "reason"),
        ("assign", {"employee": {"id": 1}}, "employee"),
        ("assign", {"employee": ["ada@acme.test"]}, "employee"),
    ],
)
def test_move_with_bad_body_is_400_naming_the_field(api, device, verb, payload, field):
    before = device_row(device)
    assert_error(api.post(action(device, verb), payload, format="json"), 400, code="invalid", field=field)
    assert device_row(device) == before


@pytest.mark.parametrize(
    ("state", "verb", "payload"),
    [
        ("archived", "assign", {"employee": "ada@acme.test"}),
        ("archived", "archive", {}),
        ("archived", "unassign", {}),
        ("archived", "return-to-stock", {}),
        ("in_stock", "restore", {}),
        ("in_stock", "unassign", {}),
        ("in_stock", "return-to-stock", {}),
        ("in_stock", "reassign", {"employee": "ada@acme.test"}),
        ("assigned", "assign", {"employee": "ada@acme.test"}),
    ],
)
def test_illegal_move_is_409(api, org, employee, actor, state, verb, payload):
    device = DeviceFactory(organization=org)
    if state == "archived":
        device = services.device_archive(device=device, actor=actor)
    elif state == "assigned":
        device = services.device_assign(device=device, employee=employee, actor=actor)
    before = device_row(device)
    history = DeviceHistory.objects.count()
    audit = AuditEvent.objects.count()
    body = assert_error(api.post(action(device, verb), payload, format="json"), 409, code="illegal_transition")
    assert body["fields"] == {}
    assert device_row(device) == before
    assert (DeviceHistory.objects.count(), AuditEvent.objects.count()) == (history, audit)


def test_stale_version_is_409_conflict(api, device, employee):
    before = device_row(device)
    body = assert_error(api.post(action(device, "assign"), {"employee": employee.pk, "version": device.version + 1},
                                 format="json"), 409, code="conflict")
    assert "changed" in body["detail"]
    assert device_row(device) == before
    ok = api.post(action(device, "assign"), {"employee": employee.pk, "version": device.version}, format="json")
    assert ok.status_code == 200


# --- history ---------------------------------------------------------------------------------


def test_history(api, device, employee, bob):
    api.post(LIST, {"name": "unused"}, format="json")
    api.post(action(device, "assign"), {"employee": employee.pk}, format="json")
    api.post(action(device, "reassign"), {"employee": bob.pk, "wipe": True, "reason": "swap"}, format="json")
    api.post(action(device, "archive"), {}, format="json")
    response = api.get(action(device, "history"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    rows = body["results"]
    assert [row["action"] for row in rows] == ["archived", "reassigned", "assigned"]
    reassigned = rows[1]
    assert reassigned["source"] == "api"
    assert reassigned["actor"] == "API token “HR tool”"
    assert reassigned["reason"] == "swap"
    assert reassigned["wipe_requested"] is True
    assert reassigned["assignee_before"] == {"id": employee.pk, "email": employee.email, "name": "Ada Lovelace"}
    assert reassigned["assignee_after"]["email"] == bob.email
    assert (reassigned["availability_before"], reassigned["availability_after"]) == ("in_use", "in_use")
    assert (rows[0]["assignment_before"], rows[0]["assignment_after"]) == ("assigned", "")
    assert rows[0]["assignee_after"] is None


def test_history_is_paginated(api, device, employee, actor):
    for _ in range(3):
        services.device_assign(device=device, employee=employee, actor=actor)
        services.device_unassign(device=device, actor=actor)
    body = api.get(action(device, "history"), {"page_size": 4}).json()
    assert body["count"] == 6 and len(body["results"]) == 4 and body["next"]
