from datetime import UTC, datetime

import pytest
from django.utils import timezone

from devices import services as device_services
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def freeze(monkeypatch):
    """``freeze(datetime)``: timezone.now() (and so localdate()) answer that moment until the test ends."""

    def set_now(moment: datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return set_now


@pytest.fixture
def leaver(org):
    return EmployeeFactory(organization=org, full_name="Lea Leaver", email="lea@acme.test", external_id="HR-77")


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Builder", email="bob@acme.test")


def hand(org, employee, actor, n=1, **fields):
    """``n`` new devices assigned to ``employee``."""
    devices = []
    for _ in range(n):
        device = DeviceFactory(organization=org, **fields)
        devices.append(device_services.device_assign(device=device, employee=employee, actor=actor))
    return devices
