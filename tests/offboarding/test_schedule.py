"""The daily job: a scheduled case completes on its effective date (time frozen), not before."""

from datetime import date, datetime

import pytest

from core.errors import InvalidInput
from core.models import Employee
from devices.models import AvailabilityStatus
from offboarding import services, tasks
from offboarding.models import Offboarding
from tests.offboarding.conftest import hand


@pytest.fixture(autouse=True)
def _tasks_inline(monkeypatch):
    monkeypatch.setattr(tasks.run_due_offboardings_for, "delay",
                        lambda *a: tasks.run_due_offboardings_for.apply(args=a).get())


def test_scheduled_case_runs_on_its_date_and_not_before(org, actor, leaver, freeze):
    [device] = hand(org, leaver, actor)
    freeze(datetime(2026, 11, 21, 9, 0))
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    services.offboarding_schedule(offboarding=case, actor=actor, effective_date=date(2026, 11, 30))

    freeze(datetime(2026, 11, 29, 23, 59))  # the day before: nothing happens
    assert tasks.run_due_offboardings() == {"queued": 0}
    case.refresh_from_db()
    device.refresh_from_db()
    assert case.status == Offboarding.Status.SCHEDULED and device.assignee == leaver

    freeze(datetime(2026, 11, 30, 3, 0))  # its day: the daily job completes it
    assert tasks.run_due_offboardings() == {"queued": 1}
    case.refresh_from_db()
    device.refresh_from_db()
    leaver.refresh_from_db()
    assert case.status == Offboarding.Status.COMPLETED
    assert case.completed_by_label == "System (scheduled offboarding)"
    assert leaver.status == Employee.Status.OFFBOARDED
    assert device.availability_status == AvailabilityStatus.IN_STOCK
    assert tasks.run_due_offboardings() == {"queued": 0}  # redelivered: nothing twice


def test_a_case_the_job_cannot_complete_keeps_its_error_and_stays_scheduled(org, actor, leaver, bob, freeze):
    [device] = hand(org, leaver, actor)
    freeze(datetime(2026, 11, 21, 9, 0))
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor, decisions=[
        {"device": device.pk, "action": "reassign", "reassign_to": bob.pk}])
    services.offboarding_schedule(offboarding=case, actor=actor, effective_date=date(2026, 11, 22))
    Employee.objects.filter(pk=bob.pk).update(status=Employee.Status.OFFBOARDED)
    freeze(datetime(2026, 11, 22, 3, 0))
    assert tasks.run_due_offboardings_for(org.pk) == {"organization": org.pk, "scheduled": 0, "completed": 0,
                                                 "failed": 1}
    case.refresh_from_db()
    assert case.status == Offboarding.Status.SCHEDULED and "Bob Builder has been offboarded" in case.last_error


def test_schedule_needs_a_future_day(org, actor, leaver, freeze):
    freeze(datetime(2026, 11, 21, 9, 0))
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    for day in (date(2026, 11, 21), date(2026, 11, 1)):
        with pytest.raises(InvalidInput, match="future day"):
            services.offboarding_schedule(offboarding=case, actor=actor, effective_date=day)
    case.refresh_from_db()
    assert case.status == Offboarding.Status.DRAFT


def test_cancelled_scheduled_case_never_runs(org, actor, leaver, freeze):
    freeze(datetime(2026, 11, 21, 9, 0))
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    services.offboarding_schedule(offboarding=case, actor=actor, effective_date=date(2026, 11, 25))
    services.offboarding_cancel(offboarding=case, actor=actor)
    freeze(datetime(2026, 11, 26, 3, 0))
    assert tasks.run_due_offboardings() == {"queued": 0}
    leaver.refresh_from_db()
    assert leaver.is_active


def test_an_end_date_drafts_a_scheduled_case_that_runs_on_that_day(org, actor, leaver, freeze):
    [device] = hand(org, leaver, actor)
    Employee.objects.filter(pk=leaver.pk).update(end_date=date(2026, 12, 10))
    freeze(datetime(2026, 11, 21, 3, 0))  # more than two weeks ahead: nothing yet
    assert tasks.run_due_offboardings() == {"queued": 0}
    freeze(datetime(2026, 11, 30, 3, 0))  # within the horizon: a scheduled case appears, for admins to review
    assert tasks.run_due_offboardings() == {"queued": 1}
    case = Offboarding.objects.get()
    assert (case.status, case.origin, case.effective_date) == ("scheduled", "schedule", date(2026, 12, 10))
    assert case.started_by_label == "System (scheduled offboarding)"
    assert case.decisions.get().action == "return_to_stock"
    assert tasks.run_due_offboardings() == {"queued": 0}  # one case, not one per run
    freeze(datetime(2026, 12, 10, 3, 0))
    tasks.run_due_offboardings()
    case.refresh_from_db()
    device.refresh_from_db()
    assert case.status == Offboarding.Status.COMPLETED and device.assignee is None


def test_a_cancelled_end_date_case_is_not_drafted_again_and_past_end_dates_are_left_alone(org, actor, leaver, bob,
                                                                                         freeze):
    Employee.objects.filter(pk=leaver.pk).update(end_date=date(2026, 12, 1))
    Employee.objects.filter(pk=bob.pk).update(end_date=date(2026, 11, 1))  # long gone: never offboarded by the job
    freeze(datetime(2026, 11, 25, 3, 0))
    tasks.run_due_offboardings()
    case = Offboarding.objects.get()
    services.offboarding_cancel(offboarding=case, actor=actor)
    tasks.run_due_offboardings()
    assert Offboarding.objects.count() == 1
    # A new end date is a new decision to make.
    Employee.objects.filter(pk=leaver.pk).update(end_date=date(2026, 12, 5))
    tasks.run_due_offboardings()
    assert Offboarding.objects.filter(status="scheduled", effective_date=date(2026, 12, 5)).count() == 1
    bob.refresh_from_db()
    assert bob.is_active and not bob.offboardings.exists()


def test_a_case_completed_by_a_concurrent_run_is_not_marked_failed(org, actor, leaver, freeze, monkeypatch):
    freeze(datetime(2026, 11, 21, 9, 0))
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    services.offboarding_schedule(offboarding=case, actor=actor, effective_date=date(2026, 11, 22))
    original = services.offboarding_complete

    def other_worker_won(*, offboarding, actor):
        original(offboarding=offboarding, actor=actor)  # the redelivered twin completes it first
        return original(offboarding=offboarding, actor=actor)

    monkeypatch.setattr(services, "offboarding_complete", other_worker_won)
    freeze(datetime(2026, 11, 22, 3, 0))
    assert services.offboarding_run_due(organization=org)["failed"] == 0
    case.refresh_from_db()
    assert case.status == Offboarding.Status.COMPLETED and case.last_error == ""
