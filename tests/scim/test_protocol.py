"""The SCIM endpoint's answers outside the happy path: discovery, authentication, scopes, and the error body."""

import json

from django.test import override_settings
from django.utils import timezone

from core.models import ApiToken, AuditEvent, Employee
from tests.conftest import token_key
from tests.factories import EmployeeFactory
from tests.scim.conftest import ScimClient, assert_scim_error, user_body


def test_discovery_announces_what_the_cockpit_keeps(scim):
    status, config = ScimClient(scim.client, None).get("/ServiceProviderConfig")  # no token needed (RFC 7644 §4)
    assert status == 200
    assert config["patch"]["supported"] and config["filter"] == {"supported": True, "maxResults": 200}
    assert not config["bulk"]["supported"] and not config["changePassword"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    _, types = scim.get("/ResourceTypes")
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
    _, schemas = scim.get("/Schemas")
    user = next(s for s in schemas["Resources"] if s["name"] == "User")
    assert [a["name"] for a in user["attributes"]] == ["userName", "name", "displayName", "preferredLanguage",
                                                        "locale", "active", "emails", "groups"]
    assert scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")[0] == 200


def test_without_a_valid_token_it_is_401_in_the_scim_shape(client, org):
    anonymous = ScimClient(client, None)
    body = assert_scim_error(anonymous.get("/Users"), 401)
    assert anonymous.last["WWW-Authenticate"] == 'Bearer realm="SCIM"'
    assert anonymous.last["Content-Type"] == "application/scim+json"
    assert_scim_error(ScimClient(client, "fcp_not-a-real-key").get("/Users"), 401)
    assert "token" in body["detail"]


def test_a_revoked_token_stops_working_at_once(client, org):
    key = token_key(org, "write", name="Okta")
    scim = ScimClient(client, key)
    assert scim.get("/Users")[0] == 200
    ApiToken.objects.for_org(org).filter(name="Okta").update(revoked_at=timezone.now())
    assert_scim_error(scim.get("/Users"), 401)


def test_a_read_token_reads_but_never_writes(read_scim, org):
    employee = EmployeeFactory(organization=org, email="ada@acme.test")
    assert read_scim.get("/Users")[0] == 200
    assert read_scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})[0] == 200
    assert_scim_error(read_scim.post("/Users", user_body("bob@acme.test")), 403)
    assert_scim_error(read_scim.delete(f"/Users/{employee.pk}"), 403)
    assert_scim_error(read_scim.patch(f"/Users/{employee.pk}", {"schemas": [], "Operations": []}), 403)
    assert Employee.objects.for_org(org).count() == 1


def test_malformed_requests_get_scim_errors_and_change_nothing(scim, org):
    assert_scim_error(scim.get("/Nowhere"), 404)
    assert_scim_error(scim.get("/Users/abc"), 404)
    assert_scim_error(scim.call("put", "/Users"), 405)
    response = scim.client.post("/scim/v2/Users", "{not json", content_type="application/scim+json",
                                **scim.headers)
    body = json.loads(response.content)
    assert response.status_code == 400 and body["scimType"] == "invalidSyntax"
    assert_scim_error(scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}), 400)
    assert_scim_error(scim.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                          "Operations": []}), 501)
    assert not Employee.objects.for_org(org).exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_too_large_is_413(scim, org):
    assert_scim_error(scim.post("/Users", user_body("ada@acme.test", displayName="x" * 2000)), 413)
    assert not Employee.objects.for_org(org).exists()


def test_requests_are_audited_with_their_request_id(scim, org):
    status, body = scim.post("/Users", user_body("ada@acme.test"), HTTP_X_REQUEST_ID="req-scim-1")
    assert status == 201
    entry = AuditEvent.objects.for_org(org).get(event="employee.created")
    assert entry.request_id == "req-scim-1" and entry.actor_type == "token"
