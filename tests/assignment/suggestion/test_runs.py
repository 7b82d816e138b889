"""Suggestion runs on a lease (issue #12 §1): each run is recorded; a second one while the first is alive is
skipped politely; a run whose worker died is marked abandoned (when and why) by the next one, which scores; a run
that lost its lease writes nothing; nothing depends on the cache (Redis may be down). The last test kills a real
``celery worker`` in the middle of a run and shows the next run taking over."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from assignment.suggestion import services, tasks
from assignment.suggestion.models import Suggestion, SuggestionRun
from assignment.suggestion.services import LEASE_JOB, suggestions_refresh
from core.actors import Actor
from core.leases import JobLease, lease_acquire, lease_holder
from core.models import Organization
from devices.models import Device
from tests.conftest import sync_now
from tests.factories import DeviceFactory, EmployeeFactory
from tests.worker_processes import LEASE_SECONDS, Processes, flag, wait_until

SYSTEM = Actor.system("tests")
ORIGINAL_SCORES = services.suggestion_scores


def refresh(org, **kwargs):
    return suggestions_refresh(organization=org, actor=SYSTEM, **kwargs)


def mdm_device(org, email, **fields):
    return DeviceFactory(organization=org, fleet_emails=[{"email": email, "source": "mdm_idp_accounts"}], **fields)


def crashed_run(org, *, lapsed_seconds_ago: float = 5) -> SuggestionRun:
    """What a worker killed mid-run leaves: its run "running" and its lease no longer renewed (lapsed since)."""
    past = timezone.now() - timedelta(seconds=90 + lapsed_seconds_ago)
    assert lease_acquire(organization=org, job=LEASE_JOB, ttl=90, now=past) is not None
    return SuggestionRun.objects.create(organization=org, mode="suggest", actor_label="worker", started_at=past)


def test_a_run_is_recorded_with_what_it_did(org, employee):
    mdm_device(org, employee.email)
    counts = refresh(org)
    run = SuggestionRun.objects.get()
    assert counts["run"] == run.pk and counts["created"] == 1
    assert (run.status, run.trigger, run.mode, run.actor_label) == ("succeeded", "schedule", "suggest", SYSTEM.label)
    assert run.counts["created"] == 1 and run.finished_at >= run.started_at and not run.error
    assert lease_holder(organization=org, job=LEASE_JOB) is None  # released at the end


def test_mode_off_records_nothing(org, employee):
    Organization.objects.filter(pk=org.pk).update(assignment_suggestion_mode=Organization.SuggestionMode.OFF)
    assert refresh(org) == {"mode": "off"}
    assert not SuggestionRun.objects.exists() and not JobLease.objects.exists()


def test_a_live_suggestion_run_is_not_abandoned_the_second_one_is_skipped(org, employee):
    mdm_device(org, employee.email)
    live = lease_acquire(organization=org, job=LEASE_JOB)
    running = SuggestionRun.objects.create(organization=org, mode="suggest", started_at=timezone.now())
    counts = refresh(org)
    assert counts["skipped"] and not Suggestion.objects.exists()
    skipped = SuggestionRun.objects.get(pk=counts["run"])
    assert skipped.status == "skipped" and skipped.finished_at and "under way" in skipped.error
    running.refresh_from_db()
    assert running.status == "running"
    live.release()
    assert refresh(org)["created"] == 1


def test_the_next_run_marks_a_crashed_run_abandoned_and_scores(org, employee):
    mdm_device(org, employee.email)
    stuck = crashed_run(org)
    counts = refresh(org)
    assert counts["created"] == 1 and SuggestionRun.objects.get(pk=counts["run"]).status == "succeeded"
    stuck.refresh_from_db()
    assert stuck.status == "abandoned" and stuck.abandoned_at is not None and stuck.finished_at is None
    assert "lease lapsed at" in stuck.error and "held by" in stuck.error


def test_a_run_that_lost_its_lease_writes_nothing(org, employee):
    """Stalled past its lease (a paused VM) while scoring, the run finds another took over: it writes nothing."""
    mdm_device(org, employee.email)

    def score_then_stall(**kwargs):
        scores = ORIGINAL_SCORES(**kwargs)
        JobLease.objects.filter(organization=org, job=LEASE_JOB).update(holder="successor")
        return scores

    services.suggestion_scores = score_then_stall
    try:
        counts = refresh(org)
    finally:
        services.suggestion_scores = ORIGINAL_SCORES
    assert counts["lost"] and not Suggestion.objects.exists()
    assert SuggestionRun.objects.get().status == "running"  # left for the successor, which marks it abandoned


def test_a_failing_run_is_recorded_failed_not_left_running(org, employee, monkeypatch):
    mdm_device(org, employee.email)
    monkeypatch.setattr(services, "suggestion_scores", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        refresh(org)
    run = SuggestionRun.objects.get()
    assert run.status == "failed" and run.finished_at and "ZeroDivisionError" in run.error
    assert lease_holder(organization=org, job=LEASE_JOB) is None
    monkeypatch.setattr(services, "suggestion_scores", ORIGINAL_SCORES)
    assert refresh(org)["created"] == 1


def test_auto_mode_killed_halfway_assigns_the_rest_next_time_each_once(org, monkeypatch):
    """Each automatic assignment is its own transaction: what a killed run did stands, the next does the rest."""
    Organization.objects.filter(pk=org.pk).update(assignment_suggestion_mode=Organization.SuggestionMode.AUTO)
    people = [EmployeeFactory(organization=org, email=f"p{i}@acme.test") for i in range(3)]
    devices = [mdm_device(org, person.email, platform="macos") for person in people]
    real_accept, accepted = services.suggestion_accept, []

    class WorkerKilled(BaseException):
        """SIGKILL: nothing after this line of the worker runs."""

    def accept_then_die(**kwargs):
        if len(accepted) == 1:
            raise WorkerKilled
        accepted.append(real_accept(**kwargs))
        return accepted[-1]

    monkeypatch.setattr(services, "suggestion_accept", accept_then_die)
    monkeypatch.setattr("core.leases.Lease.release", lambda self: None)  # a killed worker frees nothing
    with pytest.raises(WorkerKilled):
        refresh(org)
    monkeypatch.undo()
    assert sum(1 for d in devices if Device.objects.get(pk=d.pk).assignee_id) == 1
    JobLease.objects.filter(organization=org, job=LEASE_JOB).update(leased_until=timezone.now() - timedelta(seconds=1))
    counts = refresh(org)
    assert counts["auto_assigned"] == 2 and counts["created"] == 0  # the pending ones were kept, not re-created
    assert all(Device.objects.get(pk=d.pk).assignee_id for d in devices)
    assert Suggestion.objects.filter(status="accepted").count() == 3
    assert list(SuggestionRun.objects.order_by("id").values_list("status", flat=True)) == ["abandoned", "succeeded"]


def test_a_redelivered_task_changes_nothing_and_needs_no_cache(org, employee, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # nothing is kept
    mdm_device(org, employee.email)
    first = tasks.suggestions_refresh_organization(org.pk)
    again = tasks.suggestions_refresh_organization(org.pk)
    assert (first["created"], again["created"], again["superseded"]) == (1, 0, 0)
    assert list(SuggestionRun.objects.values_list("status", flat=True)) == ["succeeded", "succeeded"]


def test_the_trigger_says_who_started_the_run(cockpit_client, connected, sim_readonly):
    org = connected
    cockpit_client.post(reverse("suggestion_refresh", args=[org.slug]))
    sync_now(connected, sim_readonly)
    assert set(SuggestionRun.objects.values_list("trigger", flat=True)) == {"manual", "sync"}


def test_abandoned_runs_are_shown_on_the_review_queue(cockpit_client, org, employee):
    crashed_run(org)
    refresh(org, trigger=SuggestionRun.Trigger.MANUAL)
    page = cockpit_client.get(reverse("suggestion_list", args=[org.slug])).content.decode()
    runs = page[page.index('id="suggestion-runs"'):]
    assert "suggestionrun-abandoned" in runs and "Abandoned: its worker stopped" in runs and "lease lapsed at" in runs
    assert "suggestionrun-succeeded" in runs and "Started by a person" in runs
    assert "suggestionrun-running" not in runs


# ---- a real worker killed mid-run -------------------------------------------------------------------------------

SLOW_SCORING = """import time
from pathlib import Path

from django.conf import settings

from assignment.suggestion import services

_real = services.suggestion_scores


def _slow(**kwargs):
    # While the flag file exists the scoring hangs, as a huge organization's would, with the lease held.
    if (Path(settings.VAR_DIR) / "slow").exists():
        (Path(settings.VAR_DIR) / "scoring").touch()
        time.sleep(120)
    return _real(**kwargs)


services.suggestion_scores = _slow
"""

SETUP = """
from core.models import Employee, Organization
from devices.models import Device
org = Organization.objects.get(slug="acme")
org.assignment_suggestion_mode = "suggest"
org.save()
Employee.objects.create(organization=org, email="ada@acme.test", full_name="Ada Lovelace")
Device.objects.create(organization=org, name="mbp", serial_number="C02KILL",
                      fleet_emails=[{"email": "ada@acme.test", "source": "mdm_idp_accounts"}])
"""

QUEUE = """
from assignment.suggestion.tasks import suggestions_refresh_organization
from core.models import Organization
suggestions_refresh_organization.delay(Organization.objects.get(slug="acme").pk)
"""

REFRESH_NOW = """
from assignment.suggestion.services import suggestions_refresh
from core.actors import Actor
from core.models import Organization
print("COUNTS", suggestions_refresh(organization=Organization.objects.get(slug="acme"), actor=Actor.system("t")))
"""

RUNS = """
from assignment.suggestion.models import Suggestion, SuggestionRun
for run in SuggestionRun.objects.order_by("id"):
    print("RUN", run.pk, run.status, run.abandoned_at is not None, "|", run.error)
print("PENDING", Suggestion.objects.filter(status="pending").count())
"""


@pytest.mark.slow
def test_a_killed_worker_mid_run_is_abandoned_by_the_next_run(tmp_path):
    """SQLite in a temporary folder, a 3 s lease, a worker whose scoring hangs until it is killed."""
    (tmp_path / "slow_scoring.py").write_text(SLOW_SCORING)
    with Processes(tmp_path, extra_settings='CELERY_IMPORTS = ["slow_scoring"]\n') as processes:
        def runs() -> list[list[str]]:
            table = SuggestionRun._meta.db_table
            return [[str(pk), status, str(bool(abandoned))] for pk, status, abandoned in
                    processes.rows(f"SELECT id, status, abandoned_at IS NOT NULL FROM {table} ORDER BY id")]

        processes.manage("create_org", "acme", "--name", "Acme")
        processes.shell(SETUP)
        flag(tmp_path / "slow", True)
        processes.shell(QUEUE)
        with processes.worker() as worker:
            wait_until(lambda: (tmp_path / "scoring").exists() or worker.poll() is not None, timeout=90,
                       what="the worker to start scoring")
            assert worker.poll() is None, "the worker stopped on its own"
            assert runs() == [["1", "running", "False"]]
            time.sleep(LEASE_SECONDS * 1.5)  # past the TTL: only the worker's heartbeat keeps the lease
            assert "'skipped': True" in processes.shell(REFRESH_NOW)  # alive, so not abandoned
            processes.kill(worker)
        killed_at = time.monotonic()
        assert runs() == [["1", "running", "False"], ["2", "skipped", "False"]]  # what a killed worker leaves

        flag(tmp_path / "slow", False)
        time.sleep(LEASE_SECONDS + 0.5)
        processes.shell(QUEUE)
        with processes.worker():
            wait_until(lambda: ["3", "succeeded", "False"] in runs(), timeout=90, what="the next run to succeed")
        assert time.monotonic() - killed_at < 120
        out = processes.shell(RUNS)
        assert runs() == [["1", "abandoned", "True"], ["2", "skipped", "False"], ["3", "succeeded", "False"]]
        assert "lease lapsed at" in next(line for line in out.splitlines() if line.startswith("RUN 1 "))
        assert "PENDING 1" in out  # scored once, by the run that took over
