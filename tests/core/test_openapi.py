"""The OpenAPI schema tells the truth: error answers in the one shape, nullable fields, strict bodies; and the bugs
the schemathesis run (``test_schemathesis.py``) found, each pinned by a plain test."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import assert_error
from tests.factories import DeviceFactory, EmployeeFactory, PreAssignmentFactory

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _error_statuses(operation) -> set[int]:
    return {int(code) for code, answer in operation["responses"].items()
            if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") == ERROR_REF}


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_error_component_is_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == set(error["required"]) == {"status", "code", "detail", "fields"}
    assert error["properties"]["fields"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


def test_every_operation_declares_its_error_answers(schema):
    for path, method, operation in _operations(schema):
        statuses = _error_statuses(operation)
        label = f"{method.upper()} {path}"
        assert {401, 403} <= statuses, label
        if "{" in path:
            assert 404 in statuses, label
        if method in {"post", "put", "patch", "delete"}:
            assert {400, 409, 413} <= statuses, label
        if "requestBody" in operation:
            assert 415 in statuses, label
        if any(p["name"] == "page" for p in operation.get("parameters", ())):
            assert {400, 404} <= statuses, label  # a page that is not a number; a page past the last one
        assert 429 not in statuses, label  # no API view is throttled (yet): declared only where one is


def test_strict_request_bodies_refuse_unknown_keys(schema):
    components = schema["components"]["schemas"]
    for name in ("DeviceRequest", "PatchedDeviceRequest", "DeviceAssignRequest", "EmployeeRequest",
                 "PreAssignmentRequest", "OffboardRequestRequest", "DecisionInputRequest", "ImportRequest"):
        assert components[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in components["Device"]  # answers may grow fields


def test_pre_assignment_device_is_nullable(schema, api, org):
    assert schema["components"]["schemas"]["PreAssignment"]["properties"]["device"]["nullable"] is True
    pending = PreAssignmentFactory(organization=org)
    assert api.get(f"/api/v1/pre-assignments/{pending.pk}/").json()["device"] is None


def test_employee_references_in_bodies_are_not_empty(schema):
    assert schema["components"]["schemas"]["PreAssignmentRequest"]["properties"]["employee"]["minLength"] == 1


# --- found by schemathesis ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "²"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_400_naming_it(api, org, page):
    """Was a 404 ("Invalid page."), an answer the schema did not declare for a malformed parameter."""
    DeviceFactory(organization=org)
    for url in ("/api/v1/devices/", "/api/v1/employees/", "/api/v1/audit-events/"):
        assert_error(api.get(f"{url}?page={page}"), 400, code="invalid", field="page")


def test_a_page_past_the_last_one_is_a_404_and_last_works(api, org):
    EmployeeFactory.create_batch(3, organization=org)
    assert_error(api.get("/api/v1/employees/?page=9"), 404, code="not_found")
    body = api.get("/api/v1/employees/?page=last&page_size=2").json()
    assert len(body["results"]) == 1 and body["previous"]


def test_options_on_the_upsert_by_external_id_is_not_a_500(api, org):
    """Was a 500: DRF's OPTIONS metadata looked the employee up by ``pk``, which this route does not have."""
    EmployeeFactory(organization=org, external_id="hr-1")
    for external_id in ("hr-1", "nobody"):
        response = api.options(f"/api/v1/employees/external/{external_id}/")
        assert response.status_code == 200, response.content


def test_the_upsert_by_external_id_declares_both_its_answers(schema, api, org):
    """Was declared 200 only: a new external id answers 201."""
    responses = schema["paths"]["/api/v1/employees/external/{external_id}/"]["put"]["responses"]
    assert {"200", "201"} <= set(responses)
    created = api.put("/api/v1/employees/external/hr-9/", {"email": "new@acme.test"}, format="json")
    assert created.status_code == 201, created.content
    updated = api.put("/api/v1/employees/external/hr-9/", {"email": "new@acme.test", "full_name": "N"}, format="json")
    assert updated.status_code == 200, updated.content
