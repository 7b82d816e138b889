"""Two people deciding one suggestion at once: one wins, the other gets a conflict, nothing half-applies.

Needs PostgreSQL (``SELECT … FOR UPDATE NOWAIT``); each thread has its own connection.
"""

import threading

import pytest
from django.db import connection, transaction

from assignment.suggestion import services
from assignment.suggestion.models import Suggestion
from core.errors import ConcurrentChange
from devices.models import Device, DeviceHistory
from tests.devices.test_concurrency import WAIT, Worker
from tests.factories import DeviceFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def suggestion(org, employee, actor):
    device = DeviceFactory(organization=org, fleet_emails=[{"email": "ada@acme.test", "source": "custom"}])
    services.suggestions_refresh(organization=org, actor=actor)
    return Suggestion.objects.get(device=device)


def _race(holder, contender):
    locked, done = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            holder()
            locked.set()
            assert done.wait(WAIT)

    def second():
        assert locked.wait(WAIT)
        try:
            return contender()
        finally:
            done.set()

    one, two = Worker(first), Worker(second)
    one.start()
    two.start()
    two.finish()
    one.finish()
    assert one.error is None, one.error
    return two


def test_reject_while_someone_is_accepting_is_a_conflict(suggestion, actor, employee):
    two = _race(lambda: services.suggestion_accept(suggestion=suggestion, actor=actor),
                lambda: services.suggestion_reject(suggestion=suggestion, actor=actor))
    assert isinstance(two.error, ConcurrentChange) and two.error.status == 409
    assert Suggestion.objects.get(pk=suggestion.pk).status == "accepted"
    assert Device.objects.get(pk=suggestion.device_id).assignee_id == employee.pk
    assert DeviceHistory.objects.filter(device_id=suggestion.device_id, action="assigned").count() == 1


def test_accept_while_the_device_is_being_changed_leaves_the_suggestion_pending(suggestion, actor):
    two = _race(lambda: Device.objects.select_for_update().get(pk=suggestion.device_id),
                lambda: services.suggestion_accept(suggestion=suggestion, actor=actor))
    assert isinstance(two.error, ConcurrentChange)
    assert Suggestion.objects.get(pk=suggestion.pk).status == "pending"
    assert Device.objects.get(pk=suggestion.device_id).assignee_id is None
