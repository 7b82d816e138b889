"""The relay reads the audit log in order: a change that rolled back makes no event, one committed late (a long
transaction that took its ids before others committed) is still read, and ids that never show up are forgotten."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.models import AuditEvent
from core.services import employee_create
from devices import services as device_services
from tests.factories import DeviceFactory, EmployeeFactory, OrganizationFactory
from webhooks.models import Message, RelayState
from webhooks.relay import LATE_COMMIT_WINDOW, _gaps, relay_pass

pytestmark = pytest.mark.usefixtures("send_now")


def test_gaps_are_the_missing_ranges():
    assert _gaps(1, 10, [1, 2, 5, 9]) == [(3, 4), (6, 8), (10, 10)]
    assert _gaps(5, 5, [5]) == []
    assert _gaps(1, 3, []) == [(1, 3)]


def test_nothing_is_read_before_an_endpoint_exists(db):
    assert relay_pass() == {"read": 0, "deliveries": 0, "more": False}
    assert not RelayState.objects.exists()


def test_a_change_that_rolled_back_sends_nothing(org, endpoint, receiver, relay, employee, device, actor):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        device_services.device_assign(device=device, employee=employee, actor=actor)
        raise Abort
    assert not AuditEvent.objects.filter(event="device.assigned").exists()
    relay()
    assert receiver.received == [] and not Message.objects.exists()


def test_ids_that_never_show_up_are_forgotten_after_the_window(org, endpoint, relay, employee, device, actor):
    state = RelayState.objects.get()  # ids no entry has (rolled back): forgotten once the window passed
    state.pending = [[-10, -8, (timezone.now() - LATE_COMMIT_WINDOW - timedelta(seconds=1)).timestamp()],
                     [-5, -3, timezone.now().timestamp()]]
    state.save()
    relay()
    assert RelayState.objects.get().pending == [[-5, -3, state.pending[1][2]]]


def test_a_late_pass_still_reads_what_committed_before_forgetting(org, endpoint, receiver, relay, employee, device,
                                                                   actor):
    """Beat (or the broker) was away longer than the window: the pending ids are looked for once more first."""
    device_services.device_assign(device=device, employee=employee, actor=actor)
    entry = AuditEvent.objects.get(event="device.assigned")
    state = RelayState.objects.get()
    long_ago = (timezone.now() - LATE_COMMIT_WINDOW - timedelta(minutes=5)).timestamp()
    state.audit_mark, state.pending = entry.pk, [[entry.pk, entry.pk, long_ago]]
    state.save()
    relay()
    assert [p["type"] for p in receiver.payloads()] == ["device.assigned"]
    assert RelayState.objects.get().pending == []


def test_many_late_entries_are_read_a_batch_a_pass(org, endpoint, relay, monkeypatch):
    from webhooks import relay as relay_module

    for n in range(5):
        employee_create(organization=org, actor=Actor.system("tests"), email=f"late{n}@acme.test")
    ids = sorted(AuditEvent.objects.filter(event="employee.created").values_list("pk", flat=True))
    state = RelayState.objects.get()
    state.audit_mark, state.pending = ids[-1], [[ids[0], ids[-1], timezone.now().timestamp()]]
    state.save()
    monkeypatch.setattr(relay_module, "BATCH", 2)
    reads = [relay_pass() for _ in range(3)]
    assert [(r["read"], r["more"]) for r in reads] == [(2, True), (2, True), (1, False)]
    assert RelayState.objects.get().pending == []
    assert Message.objects.filter(event_type="employee.created").count() == 5


def test_an_entry_that_shows_up_below_the_mark_is_read_then(org, endpoint, receiver, relay, employee, device, actor):
    """What a transaction that committed late looks like to the relay: an id it passed, recorded as pending."""
    device_services.device_assign(device=device, employee=employee, actor=actor)
    entry = AuditEvent.objects.get(event="device.assigned")
    state = RelayState.objects.get()
    state.audit_mark, state.pending = entry.pk, [[entry.pk, entry.pk, timezone.now().timestamp()]]
    state.save()
    relay()
    assert [p["type"] for p in receiver.payloads()] == ["device.assigned"]
    assert RelayState.objects.get().pending == []


def test_a_pass_reads_a_batch_and_asks_for_more(org, endpoint, relay, monkeypatch):
    from webhooks import relay as relay_module

    monkeypatch.setattr(relay_module, "BATCH", 2)
    for n in range(3):
        employee_create(organization=org, actor=Actor.system("tests"), email=f"hire{n}@acme.test")
    first = relay_pass()
    assert first["read"] == 2 and first["more"] is True
    second = relay_pass()
    assert second["read"] == 1 and second["more"] is False


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("commits", [True, False], ids=["committed late", "rolled back"])
def test_a_transaction_still_open_when_the_relay_passes_its_id(receiver, send_now, commits):
    """A long transaction takes its audit id; a short one takes a later id and commits; the relay reads the later one
    and remembers the first as pending. Once the long one commits, the next pass reads and sends it; if it rolled
    back, nothing is ever sent for it."""
    from webhooks import services

    org = OrganizationFactory(slug="acme-late")
    system = Actor.system("tests")
    _endpoint, secret = services.endpoint_create(organization=org, actor=system, url=receiver.url,
                                                 event_types=["device.assigned", "employee.created"])
    receiver.secrets.append(secret)
    device, person = DeviceFactory(organization=org), EmployeeFactory(organization=org)
    inside, release = threading.Event(), threading.Event()

    def long_transaction():
        try:
            with transaction.atomic():
                device_services.device_assign(device=device, employee=person, actor=system)
                inside.set()
                release.wait(10)
                if not commits:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        finally:
            connection.close()

    worker = threading.Thread(target=long_transaction)
    worker.start()
    assert inside.wait(10)
    employee_create(organization=org, actor=system, email="later@acme.test")  # a later id, committed at once
    relay_pass()
    assert [p["type"] for p in receiver.payloads()] == ["employee.created"]
    assert RelayState.objects.get().pending, "the id of the open transaction is remembered"
    release.set()
    worker.join(10)
    relay_pass()
    assigned = receiver.payloads("device.assigned")
    if commits:
        assert [p["data"]["device"]["id"] for p in assigned] == [device.pk]
        assert RelayState.objects.get().pending == []
    else:
        assert assigned == [] and RelayState.objects.get().pending
    assert all(item.verified for item in receiver.received)
