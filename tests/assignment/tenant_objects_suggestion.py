"""Organization A's suggestion for the tenant isolation test (``tests/cockpit/test_tenant_isolation.py``)."""

from assignment.suggestion.models import Suggestion
from tests.factories import DeviceFactory


def objects(base) -> dict:
    # A pending suggestion needs an unassigned device; A's base device is assigned.
    device = DeviceFactory(organization=base["org"], serial_number="C02SECRETS", name="secret-unassigned")
    suggestion = Suggestion.objects.create(
        organization=base["org"], device=device, employee=base["employee"], confidence=0.8,
        evidence=[{"kind": "installer_email", "value": base["employee"].email, "detail": "custom",
                   "employee_id": base["employee"].pk, "employee": base["employee"].email, "active": True,
                   "weight": 0.7}],
        evidence_kinds=",installer_email,", fingerprint="a" * 40,
    )
    return {"suggestion": suggestion}
