"""The API against its own OpenAPI schema (``/api/schema/``), fuzzed by schemathesis.

Every operation, in valid and invalid input (schemathesis' positive and negative modes), with a write token of an
organization that has a few of each object, so paths name real objects as often as not: no answer is a 5xx, and
every answer has a status, a content type and a body the schema declares. Bounded: a few examples per operation
(``MAX_EXAMPLES``), no shrinking. The coverage phase sends no methods the schema does not declare (its "unexpected
method" cases: one request per path and method, every one answered 405 or OPTIONS' 200):
``test_every_undeclared_method_of_every_path_is_405_and_changes_nothing`` sends them all, with stricter checks.
State-changing operations run too: the test's transaction is rolled back, and
nothing reaches the broker or Fleet (task queues are on commit, never reached in a test transaction).

Deselect with ``-m "not schemathesis"``. A failure names the operation and the request that broke it; its fix
belongs in the view, serializer or filter, with a regular test beside it."""

import json
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.actors import Actor
from devices import services as device_services
from tests.conftest import api_client_for, assert_error, rows_shared_by_the_module, token_key
from tests.factories import (
    AuditEventFactory,
    CsvImportFactory,
    DeviceFactory,
    EmployeeFactory,
    FleetConnectionFactory,
    GroupFactory,
    OffboardingDeviceFactory,
    OrganizationFactory,
    PreAssignmentFactory,
    SuggestionFactory,
    SyncRunFactory,
)

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db]

MAX_EXAMPLES = 12
UNDECLARED_METHODS = ("get", "put", "post", "delete", "patch", "trace", "query")  # and OPTIONS, which DRF answers
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _load_schema():
    """The schema ``/api/schema/`` serves, generated at collection (no request, no database), so that each
    operation is a test item of its own: the parallel workers share them out instead of one item running all."""
    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()  # requests go in-process to the project's WSGI application
    loaded.config.phases.coverage.unexpected_methods = set()  # UNDECLARED_METHODS' own test sends them
    return loaded


@pytest.fixture(autouse=True)
def same_connection(db):
    """As Django's test client does, a request's start and end do not close the test's database connection
    (PostgreSQL would lose the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def _fleet(django_db_setup, django_db_blocker):
    """A write token of an organization and the ids of a few of each of its objects, by the path's collection:
    written once for the module (``rows_shared_by_the_module``), each test's requests rolled back after it."""
    with rows_shared_by_the_module(django_db_blocker):
        org = OrganizationFactory(slug="acme", name="Acme")
        actor = Actor.system("tests")
        groups = GroupFactory.create_batch(2, organization=org)
        employees = [EmployeeFactory(organization=org, external_id=f"hr-{n}") for n in range(3)]
        devices = DeviceFactory.create_batch(3, organization=org)
        device_services.device_assign(device=devices[0], employee=employees[0], actor=actor)
        device_services.device_archive(device=devices[2], actor=actor)
        pre_assignments = [
            PreAssignmentFactory(organization=org, employee=employees[1]),  # no device yet: "device" is null
            PreAssignmentFactory(organization=org, employee=employees[2], serial_number=devices[1].serial_number),
        ]
        suggestions = [SuggestionFactory(organization=org, device=devices[1], employee=employees[1])]
        offboardings = [OffboardingDeviceFactory(organization=org, device=devices[0],
                                                 offboarding__employee=employees[0]).offboarding]
        CsvImportFactory(organization=org)
        FleetConnectionFactory(organization=org)  # a sync can be asked for (queued on commit: never, here)
        sync_runs = SyncRunFactory.create_batch(2, organization=org)
        events = AuditEventFactory.create_batch(2, organization=org, target=groups[0])
        yield {
            "key": token_key(org, "write"),
            "ids": {
                "devices": [d.pk for d in devices], "employees": [e.pk for e in employees],
                "groups": [g.pk for g in groups], "pre-assignments": [p.pk for p in pre_assignments],
                "suggestions": [s.pk for s in suggestions], "offboardings": [o.pk for o in offboardings],
                "sync-runs": [r.pk for r in sync_runs], "audit-events": [e.pk for e in events],
            },
            "external_ids": [e.external_id for e in employees],
        }


@pytest.fixture
def fleet(_fleet, db):
    return _fleet


def _aim_at_real_objects(case, fleet):
    """Four generated ids in five name an existing object of the collection (the fifth is left as generated,
    mostly a 404); the same for an employee's external id."""
    collection = case.operation.path.split("/")[3]
    parameters = case.path_parameters or {}
    for name, pool in (("id", fleet["ids"].get(collection)), ("external_id", fleet["external_ids"])):
        value = parameters.get(name)
        if pool and value is not None:
            number = abs(value) if isinstance(value, int) else sum(str(value).encode())
            if number % 5 != 4:
                parameters[name] = pool[number % len(pool)]


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_the_api_answers_what_its_schema_says(case, fleet):
    _aim_at_real_objects(case, fleet)
    case.call_and_validate(headers={"Authorization": f"Bearer {fleet['key']}"}, checks=CHECKS)


def _database_rows() -> dict:
    """Every row of every model, by model: what a refused request must leave as it was."""
    from django.apps import apps

    return {model._meta.label: sorted(map(repr, model._base_manager.order_by().values_list()))
            for model in apps.get_models() if model._meta.managed}


def test_every_undeclared_method_of_every_path_is_405_and_changes_nothing(fleet):
    """What schemathesis' coverage phase would send as "unexpected methods": each method a path of the schema does
    not declare, to that path with real objects in it, is refused with 405 in the one error shape, and OPTIONS
    describes the view (200); the database is unchanged."""
    api = api_client_for(fleet["key"])
    api.get("/api/v1/devices/")  # the token's first use is written now, not during the refused requests
    before, sent = _database_rows(), 0
    for path, item in schema.raw_schema["paths"].items():
        declared = {method for method in item if method in UNDECLARED_METHODS}
        pool = fleet["ids"].get(path.split("/")[3]) or [1]
        url = re.sub(r"{id}", str(pool[0]), path).replace("{external_id}", fleet["external_ids"][0])
        assert "{" not in url, f"{path}: a path parameter this test does not fill"
        for method in sorted(set(UNDECLARED_METHODS) - declared):
            response = api.generic(method.upper(), url)
            assert_error(response, 405, code="method_not_allowed")
            sent += 1
        options = api.options(url)
        assert options.status_code == 200 and options["Content-Type"].startswith("application/json"), url
    assert sent >= 200  # every path, most methods
    assert _database_rows() == before
