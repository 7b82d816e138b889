"""Two SCIM writes to one user at once (PostgreSQL row locks): the second applies to the first one's result."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from core.models import Employee
from offboarding.models import Offboarding
from tests.conftest import token_key
from tests.factories import EmployeeFactory
from tests.scim.conftest import ScimClient, patch_body
from tests.scim.idp_requests import OKTA_DEACTIVATE

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

WAIT = 15


def _race(*calls):
    barrier = threading.Barrier(len(calls), timeout=WAIT)
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    return results


def test_two_deactivations_at_once_start_one_offboarding(org):
    employee = EmployeeFactory(organization=org, email="ada@acme.test")
    key = token_key(org, "write", name="Okta")
    results = _race(*(lambda: ScimClient(Client(), key).patch(f"/Users/{employee.pk}", OKTA_DEACTIVATE)
                      for _ in range(2)))
    assert [status for status, _body in results] == [200, 200]
    assert Offboarding.objects.for_org(org).filter(employee=employee).count() == 1


def test_two_patches_at_once_both_apply(org):
    employee = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada", external_id="HR-1")
    key = token_key(org, "write", name="Entra")
    results = _race(
        lambda: ScimClient(Client(), key).patch(f"/Users/{employee.pk}", patch_body(
            {"op": "Replace", "path": "displayName", "value": "Ada Lovelace"})),
        lambda: ScimClient(Client(), key).patch(f"/Users/{employee.pk}", patch_body(
            {"op": "Replace", "path": "externalId", "value": "HR-2"})),
    )
    assert [status for status, _body in results] == [200, 200]
    employee = Employee.objects.get(pk=employee.pk)
    assert (employee.full_name, employee.external_id) == ("Ada Lovelace", "HR-2")
