"""``/api/v1/suggestions/``: list with the shared filters, read, accept, reject, errors and scopes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assignment.suggestion.models import Suggestion
from assignment.suggestion.services import suggestions_refresh
from core.actors import Actor
from core.models import AuditEvent
from devices import services as device_services
from devices.models import DeviceHistory
from tests.conftest import assert_error
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Martin", email="bob@acme.test")


@pytest.fixture
def suggestions(org, employee, bob):
    ada_device = DeviceFactory(organization=org, name="C02ADA", fleet_emails=[
        {"email": "ada@acme.test", "source": "mdm_idp_accounts"}])
    bob_device = DeviceFactory(organization=org, name="bob-martin-mbp")
    suggestions_refresh(organization=org, actor=Actor.system("tests"))
    return {
        "ada": Suggestion.objects.get(device=ada_device),
        "bob": Suggestion.objects.get(device=bob_device),
    }


def test_list_shows_documented_fields(api, suggestions, employee):
    response = api.get("/api/v1/suggestions/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["results"][0]  # most confident first
    assert set(first) == {"id", "device", "employee", "confidence", "evidence", "status", "decided_at", "decided_by",
                          "automatic", "note", "created_at", "updated_at"}
    assert first["employee"] == {"id": employee.pk, "email": "ada@acme.test", "name": "Ada Lovelace"}
    assert first["device"]["name"] == "C02ADA" and first["confidence"] == 0.9 and first["status"] == "pending"
    assert first["evidence"][0]["kind"] == "sso_email"


@pytest.mark.parametrize("query, expected", [
    ("status=pending", {"ada", "bob"}),
    ("status=accepted", set()),
    ("min_confidence=0.5", {"ada"}),
    ("evidence=device_name", {"bob"}),
    ("employee_email=BOB@acme.test", {"bob"}),
    ("search=C02ADA", {"ada"}),
])
def test_list_filters(api, suggestions, query, expected):
    ids = {s["id"] for s in api.get(f"/api/v1/suggestions/?{query}").json()["results"]}
    assert ids == {suggestions[name].pk for name in expected}


def test_unknown_filter_is_refused(api, suggestions):
    assert_error(api.get("/api/v1/suggestions/?confidence_min=1"), 400, field="confidence_min")


def test_list_query_count_does_not_grow_with_rows(api, org, suggestions):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/suggestions/").status_code == 200
        return len(captured)

    count()  # the token's first use of the run records its last use
    few = count()
    for _ in range(10):
        person = EmployeeFactory(organization=org)
        DeviceFactory(organization=org, fleet_emails=[{"email": person.email, "source": "custom"}])
    suggestions_refresh(organization=org, actor=Actor.system("tests"))
    assert count() == few


def test_accept_assigns_the_device(api, suggestions, employee):
    suggestion = suggestions["ada"]
    response = api.post(f"/api/v1/suggestions/{suggestion.pk}/accept/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted" and response.json()["decided_by"] == "API token “HR tool”"
    device = suggestion.device
    device.refresh_from_db()
    assert device.assignee == employee
    assert DeviceHistory.objects.get(device=device, action="assigned").source == "suggestion"
    assert AuditEvent.objects.get(event="suggestion.accepted").actor_type == "token"
    assert_error(api.post(f"/api/v1/suggestions/{suggestion.pk}/accept/", {}, format="json"), 409,
                 code="illegal_transition")


def test_accept_refuses_a_body(api, suggestions):
    assert_error(api.post(f"/api/v1/suggestions/{suggestions['ada'].pk}/accept/", {"employee": 3}, format="json"),
                 400, field="employee")
    assert Suggestion.objects.get(pk=suggestions["ada"].pk).status == "pending"


def test_reject_with_a_reason(api, suggestions):
    suggestion = suggestions["bob"]
    response = api.post(f"/api/v1/suggestions/{suggestion.pk}/reject/", {"reason": "Loaner"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["note"]) == ("rejected", "Loaner")
    assert_error(api.post(f"/api/v1/suggestions/{suggestion.pk}/reject/", {"why": "x"}, format="json"), 400,
                 field="why")


def test_a_suggestion_for_a_device_assigned_otherwise_is_gone(api, suggestions, bob, actor):
    suggestion = suggestions["ada"]
    device_services.device_assign(device=suggestion.device, employee=bob, actor=actor)
    assert_error(api.get(f"/api/v1/suggestions/{suggestion.pk}/"), 404)
    assert_error(api.post(f"/api/v1/suggestions/{suggestion.pk}/accept/", {}, format="json"), 404)


def test_read_token_reads_but_cannot_decide(read_api, suggestions):
    assert read_api.get(f"/api/v1/suggestions/{suggestions['ada'].pk}/").status_code == 200
    assert_error(read_api.post(f"/api/v1/suggestions/{suggestions['ada'].pk}/accept/", {}, format="json"), 403)
    assert Suggestion.objects.get(pk=suggestions["ada"].pk).status == "pending"


def test_another_organizations_suggestion_is_404(other_org, suggestions):
    from tests.conftest import api_client_for, token_key

    other = api_client_for(token_key(other_org))
    assert other.get("/api/v1/suggestions/").json()["count"] == 0
    assert_error(other.post(f"/api/v1/suggestions/{suggestions['ada'].pk}/accept/", {}, format="json"), 404)
    assert Suggestion.objects.get(pk=suggestions["ada"].pk).status == "pending"
