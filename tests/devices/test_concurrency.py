"""Two admins acting on one device at once: one wins, the other gets a conflict, nothing half-applies.

Needs PostgreSQL: the services lock the device row with ``SELECT … FOR UPDATE NOWAIT``, which SQLite
does not have. Each thread uses its own database connection and closes it when done.
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from core.actors import Actor
from core.errors import ConcurrentChange, IllegalTransition
from core.models import AuditEvent
from devices import services
from devices.models import Device, DeviceHistory
from tests.conftest import api_client_for, token_key
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

WAIT = 15  # seconds; generous, a stuck test fails instead of hanging


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test")


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, email="bob@acme.test")


@pytest.fixture
def stock_device(org):
    return DeviceFactory(organization=org, serial_number="C02RACE01")


class Worker(threading.Thread):
    """Runs ``fn`` in a thread with its own DB connection; keeps the result or the exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed back to the test
            self.error = exc
        finally:
            connections.close_all()

    def finish(self):
        self.join(2 * WAIT)  # longer than any wait inside a worker
        assert not self.is_alive(), "worker thread did not finish"
        return self


def assert_one_assignment(device, winner):
    fresh = Device.objects.get(pk=device.pk)
    assert (fresh.availability_status, fresh.assignment_status, fresh.assignee_id) == ("in_use", "assigned", winner.pk)
    assert fresh.version == device.version + 1
    history = DeviceHistory.objects.filter(device=device)
    assert history.count() == 1
    assert history.get().assignee_after_id == winner.pk
    events = AuditEvent.objects.filter(target_type="devices.device", target_id=str(device.pk), event="device.assigned")
    assert events.count() == 1
    assert events.get().after["assignee"] == winner.email


def test_second_assign_while_first_holds_the_lock_is_a_conflict(stock_device, ada, bob, actor):
    locked = threading.Event()
    second_done = threading.Event()

    def first():
        with transaction.atomic():
            # The first admin's transaction holds the row lock while the second one tries.
            Device.objects.select_for_update().get(pk=stock_device.pk)
            locked.set()
            assert second_done.wait(WAIT)
            return services.device_assign(device=stock_device, employee=ada, actor=actor)

    def second():
        assert locked.wait(WAIT)
        try:
            return services.device_assign(device=stock_device, employee=bob, actor=actor)
        finally:
            second_done.set()

    one, two = Worker(first), Worker(second)
    one.start()
    two.start()
    two.finish()
    one.finish()

    assert isinstance(two.error, ConcurrentChange), two.error
    assert two.error.status == 409
    assert one.error is None, one.error
    assert one.result.assignee_id == ada.pk
    assert_one_assignment(stock_device, ada)


def test_conflicting_moves_of_different_kinds_leave_one_consistent_state(stock_device, ada, actor):
    """An archive racing an assign: the loser changes nothing, the row stays a legal combination."""
    locked = threading.Event()
    second_done = threading.Event()

    def archive_holding_lock():
        with transaction.atomic():
            Device.objects.select_for_update().get(pk=stock_device.pk)
            locked.set()
            assert second_done.wait(WAIT)
            return services.device_archive(device=stock_device, actor=actor, wipe=True)

    def assign():
        assert locked.wait(WAIT)
        try:
            return services.device_assign(device=stock_device, employee=ada, actor=actor)
        finally:
            second_done.set()

    one, two = Worker(archive_holding_lock), Worker(assign)
    one.start()
    two.start()
    two.finish()
    one.finish()

    assert isinstance(two.error, ConcurrentChange)
    assert one.error is None
    fresh = Device.objects.get(pk=stock_device.pk)
    assert (fresh.availability_status, fresh.assignment_status, fresh.assignee_id) == ("archived", None, None)
    assert list(DeviceHistory.objects.filter(device=stock_device).values_list("action", flat=True)) == ["archived"]
    assert not AuditEvent.objects.filter(event="device.assigned").exists()


def test_two_simultaneous_service_assigns_one_wins(stock_device, ada, bob, actor):
    barrier = threading.Barrier(2, timeout=WAIT)

    def assign_to(employee):
        def run():
            barrier.wait()
            return services.device_assign(device=stock_device, employee=employee, actor=actor)

        return run

    workers = [Worker(assign_to(ada)), Worker(assign_to(bob))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.finish()

    winners = [w for w in workers if w.error is None]
    losers = [w for w in workers if w.error is not None]
    assert len(winners) == 1 and len(losers) == 1
    # Overlapping → the row lock answers ConcurrentChange; one after the other → already assigned.
    assert isinstance(losers[0].error, ConcurrentChange | IllegalTransition), losers[0].error
    assert losers[0].error.status == 409
    assert_one_assignment(stock_device, winners[0].result.assignee)


def test_two_simultaneous_api_assigns_answer_one_200_and_one_409(org, stock_device, ada, bob):
    # Two admins, two tokens (as two integrations would be).
    clients = [api_client_for(token_key(org, "write", name=f"admin {n}")) for n in (1, 2)]
    barrier = threading.Barrier(2, timeout=WAIT)
    url = f"/api/v1/devices/{stock_device.pk}/assign/"

    def post(client, employee):
        def run():
            barrier.wait()
            return client.post(url, {"employee": employee.email, "version": stock_device.version}, format="json")

        return run

    workers = [Worker(post(clients[0], ada)), Worker(post(clients[1], bob))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.finish()
    for worker in workers:
        assert worker.error is None, worker.error

    responses = sorted((w.result for w in workers), key=lambda r: r.status_code)
    assert [r.status_code for r in responses] == [200, 409]
    ok, conflict = responses
    body = conflict.json()
    assert set(body) == {"status", "code", "detail", "fields"}
    assert body["status"] == 409
    assert body["code"] in {"conflict", "illegal_transition"}
    assert body["detail"]

    winner = ada if ok.json()["assignee"]["email"] == ada.email else bob
    assert_one_assignment(stock_device, winner)


def test_api_move_while_another_transaction_holds_the_lock_is_409(org, stock_device, ada):
    client = api_client_for(token_key(org, "write"))
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        with transaction.atomic():
            Device.objects.select_for_update().get(pk=stock_device.pk)
            locked.set()
            assert release.wait(WAIT)

    holder = Worker(hold_lock)
    holder.start()
    try:
        assert locked.wait(WAIT)
        response = client.post(f"/api/v1/devices/{stock_device.pk}/assign/", {"employee": ada.pk}, format="json")
    finally:
        release.set()
        holder.finish()
    assert holder.error is None

    assert response.status_code == 409
    assert response.json() == {
        "status": 409, "code": "conflict", "detail": response.json()["detail"], "fields": {},
    }
    fresh = Device.objects.get(pk=stock_device.pk)
    assert (fresh.availability_status, fresh.assignee_id, fresh.version) == ("in_stock", None, stock_device.version)
    assert not DeviceHistory.objects.filter(device=stock_device).exists()
    assert not AuditEvent.objects.filter(event="device.assigned").exists()

    # Once the lock is gone the same request goes through.
    retry = client.post(f"/api/v1/devices/{stock_device.pk}/assign/", {"employee": ada.pk}, format="json")
    assert retry.status_code == 200
    assert_one_assignment(stock_device, ada)


def test_system_job_and_admin_racing_an_unassign(org, ada, bob, actor):
    """Sync/offboarding (system actor) and an admin both act on an assigned device: one applies."""
    device = DeviceFactory(organization=org)
    device = services.device_assign(device=device, employee=ada, actor=actor)
    barrier = threading.Barrier(2, timeout=WAIT)

    def offboarding():
        barrier.wait()
        return services.device_unassign(device=device, actor=Actor.system("offboarding"), wipe=True)

    def admin_reassign():
        barrier.wait()
        return services.device_reassign(device=device, employee=bob, actor=actor)

    workers = [Worker(offboarding), Worker(admin_reassign)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.finish()

    errors = [w.error for w in workers if w.error is not None]
    fresh = Device.objects.get(pk=device.pk)
    actions = list(DeviceHistory.objects.filter(device=device).order_by("id").values_list("action", flat=True))
    if len(errors) == 1:
        # Overlap: the loser got a conflict, the winner's move is the only one applied.
        assert isinstance(errors[0], ConcurrentChange | IllegalTransition)
        assert len(actions) == 2  # the setup assign + one move
        assert fresh.version == device.version + 1
    else:
        # One ran strictly after the other: both moves are legal in either order (unassign then
        # reassign is refused, so this branch can only be reassign-then-unassign).
        assert errors == []
        assert actions == ["assigned", "reassigned", "unassigned"]
    assert (fresh.availability_status, fresh.assignment_status) in {("in_use", "to_assign"), ("in_use", "assigned")}
    assert (fresh.assignee_id is None) == (fresh.assignment_status == "to_assign")



def _wait_until_blocked_on_a_lock(timeout=WAIT):
    """Polls until some other session waits on a row lock (the move under test)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second move never waited on the row lock")


def test_move_that_locks_a_row_changed_since_its_snapshot_reads_the_new_owner(org, ada, bob, actor, monkeypatch):
    """A move whose lock lands just after another move committed must see the committed owner.

    With ``NOWAIT`` this happens when the other commit falls between the statement's snapshot and its
    row lock: PostgreSQL then re-checks the newest device row, but a joined (unlocked) employee row
    stays the old one, so a lock query that joins the assignee sees ``assignee_id`` = the new owner
    and ``assignee`` = None. The window is microseconds wide; the test widens it by letting the lock
    wait instead of failing fast.
    """
    device = DeviceFactory(organization=org)
    device = services.device_assign(device=device, employee=ada, actor=actor)
    manager = Device.objects
    select_for_update = manager.select_for_update
    monkeypatch.setattr(manager, "select_for_update", lambda **kw: select_for_update(**(kw | {"nowait": False})))

    reassigned = threading.Event()
    commit = threading.Event()

    def reassign_and_hold():
        with transaction.atomic():
            services.device_reassign(device=device, employee=bob, actor=actor)
            reassigned.set()
            assert commit.wait(WAIT)

    def unassign():
        assert reassigned.wait(WAIT)
        return services.device_unassign(device=device, actor=Actor.system("offboarding"))

    first, second = Worker(reassign_and_hold), Worker(unassign)
    first.start()
    second.start()
    try:
        assert reassigned.wait(WAIT)
        _wait_until_blocked_on_a_lock()
    finally:
        commit.set()
    first.finish()
    second.finish()

    assert first.error is None, first.error
    assert second.error is None, repr(second.error)
    fresh = Device.objects.get(pk=device.pk)
    assert (fresh.availability_status, fresh.assignment_status, fresh.assignee_id) == ("in_use", "to_assign", None)
    unassigned = DeviceHistory.objects.get(device=device, action="unassigned")
    assert unassigned.assignee_before_id == bob.pk
    event = AuditEvent.objects.get(event="device.unassigned", target_id=str(device.pk))
    assert event.before["assignee"] == bob.email
