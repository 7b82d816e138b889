"""``/api/v1/devices/``: the shared API suite (``tests/api_cases.py``), then what is particular to devices about
tenancy and tokens: the moves and history of another organization's device are 404, a read token moves nothing,
revoked, garbage or missing tokens are 401."""

import pytest

from core.actors import Actor
from core.models import ApiToken
from core.services import api_token_revoke
from devices.models import AssignmentStatus, AvailabilityStatus, Device, DeviceHistory
from tests.api_cases import APIViewTestCase
from tests.conftest import api_client_for, assert_error, token_key
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

LIST = "/api/v1/devices/"
MOVES = [("assign", "employee"), ("unassign", None), ("reassign", "employee"), ("return-to-stock", None),
         ("archive", None), ("restore", None)]


def action(device, verb) -> str:
    return f"{LIST}{device.pk}/{verb}/"


def device_row(device) -> dict:
    return Device.objects.filter(pk=device.pk).values().get()


class TestDeviceAPI(APIViewTestCase):
    url_name = "api:device"
    factory = DeviceFactory
    create_data = {"serial_number": "C02NEW001", "name": "new-mbp", "platform": "macos", "model": "MacBook Air"}
    update_data = {"name": "renamed", "notes": "dent on lid", "usage": "shared"}
    # token, count, page ids (index-only), page rows by id, group names
    list_max_queries = 5

    def create_payload(self, organization) -> dict:
        GroupFactory(organization=organization, name="Sales")
        return self.create_data | {"groups": ["Sales"]}

    def make_objects(self, organization, n: int) -> list[Device]:
        """Devices as the inventory holds them: every other one with an owner, each in one to three groups."""
        groups = GroupFactory.create_batch(3, organization=organization)
        owners = EmployeeFactory.create_batch(3, organization=organization)
        devices = []
        for i in range(n):
            owner = owners[i % 3] if i % 2 else None
            device = DeviceFactory(
                organization=organization, assignee=owner,
                availability_status=AvailabilityStatus.IN_USE if owner else AvailabilityStatus.IN_STOCK,
                assignment_status=AssignmentStatus.ASSIGNED if owner else AssignmentStatus.TO_ASSIGN,
            )
            device.groups.set(groups[: i % 3 + 1])
            devices.append(device)
        return devices

    def check_list_rows(self, rows: list[dict]) -> None:
        assert all(row["groups"] for row in rows)
        assert any(row["assignee"] for row in rows)


pytestmark = pytest.mark.django_db


# --- tenancy ---------------------------------------------------------------------------------


def test_other_organizations_device_is_404_on_history_and_moves(api, other_org, employee):
    foreign = DeviceFactory(organization=other_org)
    before = device_row(foreign)
    assert_error(api.get(action(foreign, "history")), 404, code="not_found")
    for verb, needs_employee in MOVES:
        payload = {"employee": employee.pk} if needs_employee else {}
        assert_error(api.post(action(foreign, verb), payload, format="json"), 404, code="not_found")
    assert device_row(foreign) == before


def test_unknown_device_is_404(api):
    assert_error(api.get(f"{LIST}987654/"), 404)
    assert_error(api.get(f"{LIST}not-a-number/"), 404)


def test_each_token_sees_its_own_organization(api, org, other_org):
    DeviceFactory(organization=org, name="ours")
    DeviceFactory(organization=other_org, name="theirs")
    other_api = api_client_for(token_key(other_org, "read"))
    assert [row["name"] for row in api.get(LIST).json()["results"]] == ["ours"]
    assert [row["name"] for row in other_api.get(LIST).json()["results"]] == ["theirs"]


# --- tokens ----------------------------------------------------------------------------------


def test_read_token_reads_history(read_api, device):
    assert read_api.get(action(device, "history")).status_code == 200


def test_read_token_cannot_move_a_device(read_api, device, employee):
    before = device_row(device)
    for verb, needs_employee in MOVES:
        payload = {"employee": employee.pk} if needs_employee else {}
        body = assert_error(read_api.post(action(device, verb), payload, format="json"), 403,
                            code="permission_denied")
        assert "read-only" in body["detail"]
    assert device_row(device) == before
    assert not DeviceHistory.objects.exists()


def test_revoked_token_is_401(org, device):
    key = token_key(org, "write")
    client = api_client_for(key)
    assert client.get(LIST).status_code == 200
    api_token_revoke(token=ApiToken.objects.get(key_hash=ApiToken.hash_key(key)), actor=Actor.system("tests"))
    assert_error(client.get(LIST), 401, code="authentication_failed")
    assert_error(client.post(action(device, "archive"), {}, format="json"), 401)
    assert Device.objects.get(pk=device.pk).availability_status == "in_stock"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer", "authentication_failed"),
        ("Bearer garbage", "authentication_failed"),
        ("Bearer fcp_not-a-real-key", "authentication_failed"),
        ("Bearer two parts", "authentication_failed"),
        ("Token fcp_whatever", "not_authenticated"),
        ("Basic dXNlcjpwYXNz", "not_authenticated"),
    ],
)
def test_missing_or_garbage_token_is_401(client, device, header, code):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get(LIST, **extra)
    assert_error(response, 401, code=code)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.post(action(device, "archive"), {}, content_type="application/json", **extra), 401)


def test_token_last_use_is_recorded(api, org):
    token = ApiToken.objects.get(organization=org, name="HR tool")
    assert token.last_used_at is None
    api.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_cockpit_session_does_not_open_the_api(cockpit_client, device):
    assert_error(cockpit_client.get(LIST), 401)
