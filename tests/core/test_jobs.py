"""Long work leaves the request (issue #12 §2): the generic job (``core.jobs``), its task, its sweep, its API and its
progress block. The CSV import as a job is in ``tests/assignment/test_csv_jobs.py``."""

import signal
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from kombu.exceptions import OperationalError

from core import jobs
from core.actors import Actor
from core.errors import IllegalTransition, ServiceUnavailable
from core.jobs import Job, JobFailed, job_execute, job_start, jobs_sweep, lease_name
from core.leases import JobLease, lease_acquire, lease_holder
from core.models import Group
from core.tasks import job_run
from tests.api_cases import APIViewTestCase
from tests.conftest import assert_error
from tests.core.factories import JobFactory
from tests.factories import OrganizationFactory
from tests.worker_processes import LEASE_SECONDS, Commands, embedded_env, migrated_database, rows

KIND = "tests.count"
SYSTEM = Actor.system("tests")


@pytest.fixture
def kinds(monkeypatch):
    """Register test kinds for one test: ``kinds(name, handler, rerun_safe=False)``."""
    monkeypatch.setattr(jobs, "JOB_KINDS", dict(jobs.JOB_KINDS))

    def register(name, handler, *, rerun_safe=False):
        jobs.register_job_kind(name, handler, label="Counting", rerun_safe=rerun_safe)

    return register


@pytest.fixture
def jobs_run_now(monkeypatch):
    """The job task queued after commit runs in-process (the real Celery task, applied) instead of on the broker."""
    monkeypatch.setattr(jobs, "queue_job", lambda job_id: job_run.apply(args=[job_id]).get())


def counting(run):
    for done in range(1, 4):
        run.progress(done, 3, "Counting")
    return {"counted": 3, "by": run.actor.label, "asked": run.params.get("n")}


def crashed(org, kind=KIND, *, attempts=1, lapsed_seconds_ago=5) -> Job:
    """What a worker killed mid-job leaves: the job running, its lease no longer renewed (lapsed since)."""
    past = timezone.now() - timedelta(seconds=90 + lapsed_seconds_ago)
    job = JobFactory(organization=org, kind=kind, status=Job.Status.RUNNING, attempts=attempts, started_at=past,
                     finished_at=None, result=None, progress_done=4)
    assert lease_acquire(organization=org, job=lease_name(job.pk), ttl=90, now=past) is not None
    return job


# --- start ------------------------------------------------------------------------------------------------------


def test_a_job_starts_queued_and_its_task_is_queued_by_name_after_commit(org, actor, kinds,
                                                                          django_capture_on_commit_callbacks):
    kinds(KIND, counting)
    group = Group.objects.create(organization=org, name="Target")
    with mock.patch("core.dispatch.current_app") as celery_app:
        celery_app.conf.task_always_eager = False
        with django_capture_on_commit_callbacks(execute=True):
            job = job_start(organization=org, actor=actor, kind=KIND, params={"n": 3}, target=group, total=3,
                            phase="Waiting")
            celery_app.send_task.assert_not_called()  # not before the commit
    celery_app.send_task.assert_called_once_with(jobs.JOB_TASK, args=[job.pk])
    assert job_run.name == jobs.JOB_TASK
    job.refresh_from_db()
    assert (job.status, job.kind, job.params, job.progress_total, job.progress_phase) == ("queued", KIND, {"n": 3}, 3,
                                                                                          "Waiting")
    assert (job.created_by_type, job.created_by_user, job.created_by) == ("user", actor.user, actor.label)
    assert (job.target_type, job.target_id) == ("cockpit.group", str(group.pk))
    assert job.started_at is None and job.finished_at is None and job.percent == 0


def test_an_unknown_kind_is_a_programming_error(org, actor):
    with pytest.raises(ValueError, match="register it"):
        job_start(organization=org, actor=actor, kind="nobody.registered.this")
    assert not Job.objects.exists()


def test_a_kind_registers_once(kinds):
    kinds(KIND, counting)
    kinds(KIND, counting)  # the same handler again: fine (a wiring called twice)
    with pytest.raises(ValueError, match="twice"):
        kinds(KIND, lambda run: {})


# --- run --------------------------------------------------------------------------------------------------------


def test_a_job_runs_reports_progress_and_succeeds_with_its_result(org, actor, kinds, jobs_run_now,
                                                                   django_capture_on_commit_callbacks):
    kinds(KIND, counting)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(organization=org, actor=actor, kind=KIND, params={"n": 3})
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 1
    assert job.result == {"counted": 3, "by": actor.label, "asked": 3}  # the handler acted for who asked
    assert (job.progress_done, job.progress_total, job.progress_phase, job.percent) == (3, 3, "Counting", 100)
    assert job.started_at <= job.finished_at and job.error == ""
    assert lease_holder(organization=org, job=lease_name(job.pk)) is None
    assert not JobLease.objects.filter(job=lease_name(job.pk)).exists()  # a finished job keeps no lease row


def test_a_failing_job_records_why_and_the_body_a_caller_reads(org, actor, kinds):
    kinds("tests.refuse", lambda run: (_ for _ in ()).throw(JobFailed("Nothing to count.", result={"why": "empty"})))
    kinds("tests.illegal", lambda run: (_ for _ in ()).throw(IllegalTransition("Already counted.")))
    kinds("tests.crash", lambda run: 1 / 0)
    refused, illegal, crash = (job_start(organization=org, actor=actor, kind=kind)
                               for kind in ("tests.refuse", "tests.illegal", "tests.crash"))
    for job in (refused, illegal, crash):
        assert job_execute(job_id=job.pk)["status"] == "failed"
        job.refresh_from_db()
        assert job.status == "failed" and job.finished_at is not None
    assert (refused.error, refused.result) == ("Nothing to count.", {"why": "empty"})
    assert illegal.result == {"status": 409, "code": "illegal_transition", "detail": "Already counted.", "fields": {}}
    assert crash.error.startswith("Internal error (ZeroDivisionError)") and crash.result is None


def test_a_job_writes_its_outcome_in_the_language_of_the_request_that_started_it(org, actor, kinds):
    """A French admin's job fails in French, though the worker runs in English; a job asked without a language the
    cockpit speaks is written in the default one."""
    kinds("tests.phase", lambda run: run.progress(1, 2, gettext("Queued")) or (_ for _ in ()).throw(
        IllegalTransition(gettext("Cancelled"))))
    before = translation.get_language()
    with translation.override("fr"):
        french = job_start(organization=org, actor=actor, kind="tests.phase")
    with translation.override("de"):
        other = job_start(organization=org, actor=actor, kind="tests.phase")
    assert (french.language, other.language) == ("fr", "")
    for job in (french, other):
        assert job_execute(job_id=job.pk)["status"] == "failed"
        job.refresh_from_db()
    assert (french.error, french.result["detail"], french.progress_phase) == ("Annulée", "Annulée", "En file d'attente")
    assert (other.error, other.progress_phase) == ("Cancelled", "Queued")
    assert translation.get_language() == before  # the worker's own language is left as it was


def test_a_redelivered_task_does_nothing_for_a_finished_job_or_one_a_live_run_holds(org, actor, kinds):
    calls = []
    kinds(KIND, lambda run: calls.append(run.job.pk) or {})
    job = job_start(organization=org, actor=actor, kind=KIND)
    assert job_execute(job_id=job.pk)["ran"] is True
    assert job_execute(job_id=job.pk) == {"job": job.pk, "status": "succeeded", "ran": False}  # finished

    busy = job_start(organization=org, actor=actor, kind=KIND)
    live = lease_acquire(organization=org, job=lease_name(busy.pk))  # another worker runs it now
    Job.objects.filter(pk=busy.pk).update(status="running", attempts=1, started_at=timezone.now())
    assert job_execute(job_id=busy.pk)["ran"] is False
    assert jobs_sweep() == {"abandoned": 0, "requeued": 0}  # alive: the sweep leaves it too
    busy.refresh_from_db()
    assert busy.status == "running" and calls == [job.pk]
    live.release()
    assert job_execute(job_id=987654) == {"job": 987654, "status": "gone"}


def test_a_job_whose_lease_lapsed_is_abandoned_with_when_and_why(org, kinds):
    kinds(KIND, counting)
    stuck = crashed(org)
    assert jobs_sweep() == {"abandoned": 1, "requeued": 0}
    stuck.refresh_from_db()
    assert stuck.status == "abandoned" and stuck.abandoned_at is not None and stuck.finished_at is None
    assert "lease lapsed at" in stuck.error and "held by" in stuck.error
    assert stuck.progress_done == 4  # how far it got
    assert jobs_sweep() == {"abandoned": 0, "requeued": 0}

    redelivered = crashed(org)  # the task comes back (acks_late) once the lease lapsed: it abandons it as well
    assert job_execute(job_id=redelivered.pk)["status"] == "abandoned"
    redelivered.refresh_from_db()
    assert redelivered.status == "abandoned" and "lease lapsed at" in redelivered.error


def test_a_job_safe_to_re_run_runs_again_until_it_gave_up_three_times(org, kinds, monkeypatch):
    kinds(KIND, counting, rerun_safe=True)
    queued = []
    monkeypatch.setattr(jobs, "enqueue_or_log", lambda name, job_id: queued.append((name, job_id)))
    stuck = crashed(org)
    assert jobs_sweep() == {"abandoned": 0, "requeued": 1}
    assert queued == [(jobs.JOB_TASK, stuck.pk)]
    assert job_execute(job_id=stuck.pk)["status"] == "succeeded"
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts, stuck.result["counted"]) == ("succeeded", 2, 3)

    worn = crashed(org, attempts=jobs.MAX_RUNS)
    assert jobs_sweep() == {"abandoned": 1, "requeued": 0}
    worn.refresh_from_db()
    assert worn.status == "abandoned" and f"after {jobs.MAX_RUNS} run(s)" in worn.error


def test_a_run_that_lost_its_job_commits_nothing(org, kinds):
    """Stalled past its lease, the run finds its job abandoned in its last transaction: its work rolls back."""
    def stall_then_write(run):
        Job.objects.filter(pk=run.job.pk).update(status="abandoned", abandoned_at=timezone.now())  # the sweep did
        with transaction.atomic():
            Group.objects.create(organization=run.organization, name="Written by a lost run")
            run.succeed({"written": True})

    kinds(KIND, stall_then_write)
    job = job_start(organization=org, actor=SYSTEM, kind=KIND)
    assert job_execute(job_id=job.pk)["status"] == "lost"
    job.refresh_from_db()
    assert job.status == "abandoned" and job.result is None
    assert not Group.objects.filter(name="Written by a lost run").exists()


# --- the broker down, and progress from another connection ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_starting_is_a_503_and_nothing_stays_queued(kinds):
    kinds(KIND, counting)
    org = OrganizationFactory(slug="down")
    with mock.patch("core.dispatch.current_app") as celery_app:
        celery_app.conf.task_always_eager = False
        celery_app.send_task.side_effect = OperationalError("connection refused")
        with pytest.raises(ServiceUnavailable):
            job_start(organization=org, actor=SYSTEM, kind=KIND)
    job = Job.objects.get()
    assert job.status == "failed" and job.finished_at is not None and "queue was unavailable" in job.error


def _read_elsewhere(job_pk) -> dict:
    """The job's progress and the test group as another database connection (another worker, a page) sees them."""
    seen = {}

    def read():
        try:
            seen.update(Job.objects.filter(pk=job_pk).values("progress_done", "progress_total", "progress_phase").get())
            seen["group"] = Group.objects.filter(name="Uncommitted").exists()
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()
    return seen


def _wait_for_progress(job_pk, done, timeout=10.0) -> dict:
    deadline = time.monotonic() + timeout
    while (seen := _read_elsewhere(job_pk))["progress_done"] != done and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


@pytest.mark.django_db(transaction=True)
def test_progress_is_seen_by_another_connection_while_the_job_runs(kinds):
    observed = []

    def stepwise(run):
        for done in (1, 2):
            run.progress(done, 4, f"Step {done}")
            observed.append(_wait_for_progress(run.job.pk, done))
        return {}

    kinds(KIND, stepwise)
    org = OrganizationFactory(slug="steps")
    job = job_start(organization=org, actor=SYSTEM, kind=KIND)
    job_execute(job_id=job.pk)
    assert [(seen["progress_done"], seen["progress_phase"]) for seen in observed] == [(1, "Step 1"), (2, "Step 2")]
    assert Job.objects.get(pk=job.pk).status == "succeeded"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer: progress waits for the commit")
@pytest.mark.django_db(transaction=True)
def test_progress_is_seen_while_the_handlers_own_transaction_is_still_open(kinds):
    observed = []

    def in_one_transaction(run):
        with transaction.atomic():
            Group.objects.create(organization=run.organization, name="Uncommitted")
            run.progress(5, 10, "Half way")
            observed.append(_wait_for_progress(run.job.pk, 5))
            run.succeed({"ok": True})
        return None

    kinds(KIND, in_one_transaction)
    org = OrganizationFactory(slug="open")
    job = job_start(organization=org, actor=SYSTEM, kind=KIND)
    job_execute(job_id=job.pk)
    assert observed == [{"progress_done": 5, "progress_total": 10, "progress_phase": "Half way", "group": False}]
    job.refresh_from_db()
    assert (job.status, job.result, job.percent) == ("succeeded", {"ok": True}, 100)
    assert Group.objects.filter(name="Uncommitted").exists()  # committed with the job's outcome


# --- API ---------------------------------------------------------------------------------------------------------


class TestJobAPI(APIViewTestCase):
    url_name = "api:job"
    factory = JobFactory
    list_max_queries = 3


def test_a_job_reads_as_its_resource(api, org, actor):
    job = JobFactory(organization=org, kind="tests.example", status="running", progress_done=250,
                     progress_total=1000, progress_phase="Analysing the rows", result=None, finished_at=None,
                     created_by=actor.label, created_by_type="user", created_by_user=actor.user,
                     target_type="assignment.csvimport", target_id="12")
    body = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body == {
        "id": job.pk, "kind": "tests.example", "kind_label": "tests.example", "status": "running",
        "progress": {"done": 250, "total": 1000, "phase": "Analysing the rows", "percent": 25}, "result": None,
        "error": "", "created_at": body["created_at"], "started_at": body["started_at"], "finished_at": None,
        "abandoned_at": None, "created_by": {"type": "user", "label": actor.label},
        "target": {"type": "assignment.csvimport", "id": "12"},
    }
    unknown_total = JobFactory(organization=org, status="queued", progress_total=0, progress_done=0, started_at=None,
                               finished_at=None)
    assert api.get(f"/api/v1/jobs/{unknown_total.pk}/").json()["progress"]["percent"] is None


def test_jobs_list_newest_first_filtered_by_kind_and_status(api, org, other_org):
    first = JobFactory(organization=org, kind="a.one")
    second = JobFactory(organization=org, kind="a.two", status="failed", error="Nope")
    JobFactory(organization=other_org, kind="a.one")
    assert [row["id"] for row in api.get("/api/v1/jobs/").json()["results"]] == [second.pk, first.pk]
    assert [row["id"] for row in api.get("/api/v1/jobs/", {"kind": "a.one"}).json()["results"]] == [first.pk]
    assert [row["id"] for row in api.get("/api/v1/jobs/", {"status": "failed"}).json()["results"]] == [second.pk]
    assert_error(api.get("/api/v1/jobs/", {"status": "lost"}), 400, field="status")
    assert_error(api.get("/api/v1/jobs/", {"kindd": "a.one"}), 400, field="kindd")
    assert_error(api.post("/api/v1/jobs/", {}, format="json"), 405)


# --- the cockpit's progress block --------------------------------------------------------------------------------


def _progress(client, org, job, **query):
    return client.get(f"/o/{org.slug}/jobs/{job.pk}/progress/", query, **({"HTTP_HX_REQUEST": "true"}))


def test_the_progress_block_polls_while_the_job_runs(cockpit_client, org):
    job = JobFactory(organization=org, status="running", progress_done=30, progress_total=120,
                     progress_phase="Analysing the rows", finished_at=None, result=None)
    response = _progress(cockpit_client, org, job, next=f"/o/{org.slug}/devices/")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert f'hx-get="/o/{org.slug}/jobs/{job.pk}/progress/?next=/o/{org.slug}/devices/"' in html
    assert 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    assert '<progress max="120" value="30">' in html and "30 of 120 (25 %)" in html and "Analysing the rows" in html
    assert f'<a href="/o/{org.slug}/devices/" class="job-refresh">Refresh</a>' in html  # no JavaScript: reload


def test_once_over_the_block_sends_the_browser_to_the_outcome_or_shows_it(cockpit_client, org):
    done = JobFactory(organization=org)
    response = _progress(cockpit_client, org, done, next=f"/o/{org.slug}/devices/")
    assert response.status_code == 200 and response["HX-Redirect"] == f"/o/{org.slug}/devices/"
    plain = cockpit_client.get(f"/o/{org.slug}/jobs/{done.pk}/progress/", {"next": f"/o/{org.slug}/devices/"})
    assert plain.status_code == 302 and plain["Location"] == f"/o/{org.slug}/devices/"  # without htmx

    failed = JobFactory(organization=org, status="failed", error="The file changed meanwhile.")
    html = _progress(cockpit_client, org, failed).content.decode()
    assert "The file changed meanwhile." in html and "hx-trigger" not in html  # over: the polling stops
    offsite = _progress(cockpit_client, org, failed, next="https://evil.example/")
    assert "HX-Redirect" not in offsite and "evil.example" not in offsite.content.decode()


def test_the_progress_block_of_another_organizations_job_is_404(cockpit_client, org, other_org):
    foreign = JobFactory(organization=other_org, status="running", finished_at=None)
    assert _progress(cockpit_client, org, foreign).status_code == 404


# --- a real worker killed mid-job ----------------------------------------------------------------------------------

SETTINGS = f"""from cockpit.settings import *  # noqa: F403
JOB_LEASE_SECONDS = {LEASE_SECONDS}
"""
WORKER = """
import time
from core import jobs
from core.actors import Actor
from core.models import Organization
from core.tasks import job_run

def slow(run):
    run.progress(1, 10, "Slow step")
    time.sleep(300)
    return {}

jobs.register_job_kind("tests.slow", slow, label="Slow")
jobs.queue_job = lambda job_id: None  # this process is the worker: it runs the task itself, below
job = jobs.job_start(organization=Organization.objects.get(slug="acme"), actor=Actor.system("tests"),
                     kind="tests.slow")
job_run.apply(args=[job.pk])
"""
STATUS = """
from core.jobs import Job
for job in Job.objects.order_by("id"):
    print("JOB", job.pk, job.status, job.progress_done, job.abandoned_at is not None, "|", job.error)
"""
SWEEP = """
from core.tasks import jobs_sweep
print("SWEEP", jobs_sweep.apply().get())
"""


@pytest.mark.slow
def test_a_killed_worker_leaves_its_job_running_until_the_sweep_abandons_it(tmp_path):
    """SQLite in a temporary folder, a 3 s lease; the worker is SIGKILLed while its job sleeps."""
    env = embedded_env(tmp_path, settings=SETTINGS)
    migrated_database(tmp_path)
    commands = Commands(env)  # the commands and the worker, forked from one Django process
    manage = commands.manage

    def status() -> list[str]:
        found = rows(tmp_path, f"SELECT status, progress_done, abandoned_at IS NOT NULL FROM {Job._meta.db_table} "
                               "ORDER BY id LIMIT 1")
        return [found[0][0], str(found[0][1]), str(bool(found[0][2]))] if found else []

    with commands:
        manage("create_org", "acme", "--name", "Acme")
        with commands.running("manage.py", "shell", "-c", WORKER) as worker:
            deadline = time.monotonic() + 60
            while status() != ["running", "1", "False"]:  # its progress, seen from another process
                assert time.monotonic() < deadline and worker.poll() is None, "the job never reported progress"
                time.sleep(0.3)
            time.sleep(LEASE_SECONDS * 1.5)  # past the TTL: only the worker's heartbeat keeps the lease
            assert "'abandoned': 0" in manage("shell", "-c", SWEEP)  # alive: left alone
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert status() == ["running", "1", "False"]  # what a killed worker leaves behind
        time.sleep(LEASE_SECONDS + 0.5)
        assert "'abandoned': 1" in manage("shell", "-c", SWEEP)
        assert status() == ["abandoned", "1", "True"]
        assert "lease lapsed at" in manage("shell", "-c", STATUS)
