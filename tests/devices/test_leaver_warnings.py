"""A person giving a device to someone whose offboarding is under way is warned first, and may go ahead
(issue #10 §4): the API answers with ``warnings``, the cockpit asks for one more confirmation."""

import pytest
from django.urls import reverse

from core.actors import Actor
from core.selectors import employees_leaving
from devices import services as device_services
from offboarding import services as offboarding_services
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def leaving(org, actor):
    employee = EmployeeFactory(organization=org, full_name="Lea Leaving", email="lea@acme.test")
    offboarding_services.offboarding_start(organization=org, employee=employee, actor=actor)
    return employee


def test_the_selector_names_employees_with_an_open_case(org, other_org, actor, leaving, employee):
    assert set(employees_leaving(organization=org)) == {leaving.pk}
    assert employees_leaving(organization=org, employee_ids=[employee.pk]) == {}
    assert employees_leaving(organization=other_org) == {}
    case = leaving.offboardings.get()
    offboarding_services.offboarding_cancel(offboarding=case, actor=Actor.system("tests"))
    assert employees_leaving(organization=org) == {}


def test_api_assign_to_a_leaver_is_done_with_a_warning(org, leaving, employee, api):
    device = DeviceFactory(organization=org)
    body = api.post(f"/api/v1/devices/{device.pk}/assign/", {"employee": leaving.email}, format="json").json()
    assert body["assignee"]["email"] == leaving.email
    [warning] = body["warnings"]
    assert warning["code"] == "employee_leaving" and warning["employee"] == leaving.pk
    assert "Lea Leaving is leaving" in warning["detail"] and "draft" in warning["detail"]
    other = DeviceFactory(organization=org)
    plain = api.post(f"/api/v1/devices/{other.pk}/assign/", {"employee": employee.email}, format="json").json()
    assert plain["warnings"] == []


def test_cockpit_asks_once_more_before_giving_a_device_to_a_leaver(cockpit_client, org, leaving):
    device = DeviceFactory(organization=org)
    url = reverse("device_move", args=[org.slug, device.pk, "assign"])
    first = cockpit_client.post(url, {"employee": leaving.email, "version": device.version})
    page = first.content.decode()
    assert first.status_code == 200 and "Lea Leaving is leaving" in page and "Confirm anyway" in page
    assert 'name="leaving_confirmed"' in page and 'value="on"' in page.split('name="leaving_confirmed"', 1)[1][:40]
    device.refresh_from_db()
    assert device.assignee is None  # nothing done yet
    second = cockpit_client.post(url, {"employee": leaving.email, "version": device.version,
                                       "leaving_confirmed": "on"})
    assert second.status_code == 302
    device.refresh_from_db()
    assert device.assignee == leaving
    messages = [str(m) for m in second.wsgi_request._messages]
    assert any("is leaving" in m for m in messages)


def test_a_scheduled_case_says_when(org, actor, leaving):
    from datetime import date

    case = leaving.offboardings.get()
    offboarding_services.offboarding_schedule(offboarding=case, actor=actor, effective_date=date(2031, 3, 14),
                                              today=date(2031, 3, 1))
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=leaving, actor=actor)
    assert device.assignee == leaving  # a warning, never a refusal
    assert "2031" in employees_leaving(organization=org)[leaving.pk]
