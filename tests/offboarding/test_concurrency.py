"""Offboarding racing itself and the device moves (PostgreSQL row locks): one wins, nothing half-applies."""

import threading

import pytest
from django.db import connection, connections

from core.actors import Actor
from core.errors import ConcurrentChange, IllegalTransition
from devices import services as device_services
from devices.models import Device, DeviceCommand, DeviceHistory
from offboarding import services
from offboarding.models import Offboarding
from tests.offboarding.conftest import hand

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

WAIT = 15


class Worker(threading.Thread):
    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed back to the test
            self.error = exc
        finally:
            connections.close_all()


def _race(*functions):
    barrier = threading.Barrier(len(functions), timeout=WAIT)
    workers = [Worker(lambda fn=fn: (barrier.wait(), fn())[1]) for fn in functions]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT)
        assert not worker.is_alive()
    return workers


def test_two_completions_of_one_case_apply_it_once(org, actor, leaver):
    devices = hand(org, leaver, actor, 3)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    workers = _race(*(lambda: services.offboarding_complete(offboarding=case, actor=Actor.system("job"))
                      for _ in range(2)))
    errors = [w.error for w in workers if w.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], IllegalTransition | ConcurrentChange)
    assert Offboarding.objects.get().status == "completed"
    assert DeviceCommand.objects.count() == 3
    for device in devices:
        assert list(DeviceHistory.objects.filter(device=device).values_list("action", flat=True)) == [
            "returned_to_stock", "assigned"]


def test_completion_racing_an_admin_move_never_half_applies(org, actor, leaver, bob):
    devices = hand(org, leaver, actor, 3)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    workers = _race(
        lambda: services.offboarding_complete(offboarding=case, actor=Actor.system("job")),
        lambda: device_services.device_reassign(device=devices[1], employee=bob, actor=actor),
    )
    completion, admin = workers
    case.refresh_from_db()
    leaver.refresh_from_db()
    if completion.error is None:
        # The case won (or ran after the admin): every device left the leaver, the employee is offboarded.
        assert case.status == "completed" and not leaver.is_active
        assert not Device.objects.filter(assignee=leaver).exists()
    else:
        # The case lost on a device lock: it rolled back entirely, it can be completed again.
        assert isinstance(completion.error, ConcurrentChange)
        assert case.status == "draft" and leaver.is_active and not DeviceCommand.objects.exists()
        assert admin.error is None
        services.offboarding_complete(offboarding=case, actor=actor)
        assert not Device.objects.filter(assignee=leaver).exists()
