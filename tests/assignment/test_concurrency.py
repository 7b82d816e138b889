"""Two admins committing at once: one wins, the other gets a conflict, nothing half-applies (PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections

from assignment import services
from assignment.models import CsvImport, PreAssignment
from core.errors import DomainError
from tests.factories import EmployeeFactory, GroupFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

TEXT = "Serial Number,User Name,Email Address,Group Name\n" + "".join(
    f"C02RACE{n:03d},ada,ada@acme.test,Sales\n" for n in range(50)
)


def race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=15)
            outcomes[index] = call()
        except BaseException as exc:  # handed back to the test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def ready(org):
    GroupFactory(organization=org, name="Sales")
    EmployeeFactory(organization=org, email="ada@acme.test")
    return org


def test_the_same_file_committed_twice_at_once(ready, actor):
    first, second = (services.csv_import_start(organization=ready, actor=actor, data=TEXT.encode()) for _ in "12")
    outcomes = race(lambda: services.csv_import_commit(csv_import=first, actor=actor),
                    lambda: services.csv_import_commit(csv_import=second, actor=actor))
    wins = [o for o in outcomes if isinstance(o, dict)]
    losses = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert losses[0].status == 409
    assert PreAssignment.objects.count() == 50
    assert sorted(CsvImport.objects.values_list("status", flat=True)) == ["committed", "previewed"]


def test_one_import_committed_by_two_admins_at_once(ready, actor):
    record = services.csv_import_start(organization=ready, actor=actor, data=TEXT.encode())
    outcomes = race(lambda: services.csv_import_commit(csv_import=record, actor=actor),
                    lambda: services.csv_import_commit(csv_import=record, actor=actor))
    assert sum(isinstance(o, dict) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, DomainError) and o.status == 409 for o in outcomes) == 1, outcomes
    assert PreAssignment.objects.count() == 50


def test_a_preview_being_analysed_elsewhere_shows_its_progress(ready, actor, monkeypatch):
    from django.db import transaction

    monkeypatch.setattr("assignment.services.csv_imports.ANALYSE_CHUNK", 10)
    record = services.csv_import_start(organization=ready, actor=actor, data=TEXT.encode(), analyse_all=False)
    assert record.processed_rows == 10
    holding, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            CsvImport.objects.select_for_update().get(pk=record.pk)
            holding.set()
            release.wait(timeout=15)
        connections.close_all()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(timeout=15)
    try:
        same = services.csv_import_analyse(csv_import=record, chunk=10)  # does not wait: shows where it is
        assert same.processed_rows == 10
    finally:
        release.set()
        holder.join(timeout=15)
    assert services.csv_import_analyse(csv_import=record, chunk=10).processed_rows == 20
