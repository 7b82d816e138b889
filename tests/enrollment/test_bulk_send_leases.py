"""Bulk sends on a lease (issue #12 §1): a worker killed mid-chunk leaves a batch the periodic sweep picks up again
once its lease lapsed; the batch finishes and nobody gets an e-mail twice. A batch that cannot make progress is
abandoned, saying when and why, and the page that started it says so. The last test kills a real ``celery worker``
while it waits for a real SMTP server on loopback."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.audit import Source
from core.errors import ServiceUnavailable
from core.leases import JobLease, Lease
from core.models import AuditEvent
from enrollment import dispatch, services, tasks
from enrollment.models import Invitation, InvitationBatch
from enrollment.services import batches
from enrollment.services.batches import MAX_RESUMES, batches_sweep, lease_job
from tests.enrollment.smtp_server import SmtpServer
from tests.enrollment.test_bulk_sends import small_batches, staff  # noqa: F401 - the fixture
from tests.worker_processes import LEASE_SECONDS, Processes, wait_until

TTL = 90  # JOB_LEASE_SECONDS' default
REAL_SEND = mail.EmailMultiAlternatives.send


class WorkerKilled(BaseException):
    """SIGKILL in the middle of a chunk: nothing after this line of the worker runs (not even ``finally``)."""


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The periodic sweep, as the beat runs it (what it queues leaves when its transaction commits)."""
    def run(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return batches_sweep(now=now)
    return run


def time_passes(batch, seconds: float) -> None:
    """The clock moves on ``seconds`` for the batch and its lease (the dead worker's last renewal included)."""
    back = timedelta(seconds=seconds)
    InvitationBatch.objects.filter(pk=batch.pk).update(created_at=batch.created_at - back,
                                                       progress_at=batch.progress_at - back)
    for lease in JobLease.objects.filter(job=lease_job(batch.pk)):
        JobLease.objects.filter(pk=lease.pk).update(leased_until=lease.leased_until - back,
                                                    renewed_at=lease.renewed_at - back)


def queue_batch(org, actor, n, capture):
    people = staff(org, n)
    with capture(execute=True):
        services.invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people], actor=actor)
    return people, InvitationBatch.objects.get()


def test_a_worker_killed_mid_chunk_is_picked_up_by_the_sweep_and_each_is_sent_once(
        sweep, org, actor, queued, monkeypatch, django_capture_on_commit_callbacks):
    people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)
    with monkeypatch.context() as patch:
        sends = []

        def send_twice_then_die(self, fail_silently=False):
            if len(sends) == 2:
                raise WorkerKilled
            sends.append(self.to[0])
            return REAL_SEND(self, fail_silently=fail_silently)

        patch.setattr("django.core.mail.EmailMultiAlternatives.send", send_twice_then_die)
        patch.setattr(Lease, "release", lambda self: None)  # a killed worker frees nothing
        with pytest.raises(WorkerKilled):
            queued.run()
    batch.refresh_from_db()
    assert batch.status == "running" and Invitation.objects.count() == 2 and len(mail.outbox) == 2
    assert JobLease.objects.get(job=lease_job(batch.pk)).holder  # held by the dead worker until it lapses

    queued.append(queued[0])  # the broker hands the chunk out again while the lease is live: nothing is sent
    assert queued.run() == [{"status": "busy"}]
    assert sweep() == {"resumed": 0, "abandoned": 0} and len(queued) == 2

    time_passes(batch, TTL + 1)
    assert sweep() == {"resumed": 1, "abandoned": 0}  # the lease lapsed
    batch.refresh_from_db()
    assert batch.resumed == 1 and "lease lapsed at" in batch.message and "chunk 1 of 2" in batch.message
    assert [(args[1], args[2]) for _task, args in queued[2:]] == [(batch.pk, 0)]
    first, second = queued.run_all()
    assert (first["sent"], first["already"], second["sent"]) == (2, 2, 4)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)  # each exactly once
    batch.refresh_from_db()
    assert (batch.status, batch.chunks_done, batch.resumed) == ("finished", [0, 1], 0)
    assert not JobLease.objects.exists()


def test_a_chunk_task_the_broker_lost_is_queued_again(sweep, org, actor, queued, django_capture_on_commit_callbacks):
    people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)
    assert sweep() == {"resumed": 0, "abandoned": 0}  # just queued: it waits in the broker
    assert sweep(now=later(TTL + 1))["resumed"] == 1  # nothing happened for a lease's time
    batch.refresh_from_db()
    assert "its task was lost" in batch.message
    queued.cursor = 1  # the first delivery never reaches a worker
    queued.run_all()
    assert len(mail.outbox) == 8 and InvitationBatch.objects.get().status == "finished"


def test_a_broker_down_when_queueing_loses_no_batch(sweep, org, actor, queued, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    def down(name, *args):
        raise ServiceUnavailable("The job queue is unavailable right now.")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "enqueue", down)
        people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)
    assert batch.status == "running" and not queued  # recorded; its first chunk could not be queued
    assert sweep(now=later(TTL + 1))["resumed"] == 1  # the broker is back
    queued.run_all()
    assert len(mail.outbox) == 8


def test_a_live_chunk_is_left_alone_however_long_it_takes(sweep, org, actor, queued,
                                                           django_capture_on_commit_callbacks):
    _people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)
    lease = batches.lease_acquire(organization=org, job=lease_job(batch.pk), ttl=TTL * 100)  # a heartbeat renews
    assert sweep(now=later(TTL * 10)) == {"resumed": 0, "abandoned": 0}
    lease.release()


def test_a_chunk_that_lost_its_lease_stops_sending(org, actor, queued, monkeypatch,
                                                    django_capture_on_commit_callbacks):
    """Stalled past its lease (a paused VM), the chunk finds another delivery took over: it sends no more."""
    _people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)

    def send_then_stall(self, fail_silently=False):
        JobLease.objects.filter(job=lease_job(batch.pk)).update(holder="successor")
        return REAL_SEND(self, fail_silently=fail_silently)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send_then_stall)
    assert queued.run() == [{"status": "lost", "sent": 1, "already": 0, "skipped": 0}]
    assert len(mail.outbox) == 1 and len(queued) == 1  # no next chunk either: the successor goes on


def test_a_batch_that_never_progresses_is_abandoned_saying_why(sweep, cockpit_client, org, actor, queued,
                                                                django_capture_on_commit_callbacks):
    """Each time the sweep queues it again the chunk is lost (a worker that dies at once): it waits twice as long
    each time, then gives up, says so on the page that started it, and its chunk tasks send nothing more."""
    _people, batch = queue_batch(org, actor, 8, django_capture_on_commit_callbacks)
    now = later(TTL + 1)
    for attempt in range(1, MAX_RESUMES + 1):
        assert sweep(now=now) == {"resumed": 1, "abandoned": 0}, attempt
        assert sweep(now=now + timedelta(seconds=TTL * 2 ** attempt - 1))["resumed"] == 0  # backing off
        now += timedelta(seconds=TTL * 2 ** attempt + 1)
    assert sweep(now=now) == {"resumed": 0, "abandoned": 1}
    batch.refresh_from_db()
    assert batch.status == "abandoned" and batch.abandoned_at == now and batch.finished_at is None
    assert f"picked up again {MAX_RESUMES} times" in batch.message and "0 of 8 sent" in batch.message
    event = AuditEvent.objects.for_org(org).get(event="enrollment.bulk_abandoned")
    assert event.after["batch"] == batch.pk and event.source == Source.ENROLLMENT
    assert sweep(now=now + timedelta(days=1)) == {"resumed": 0, "abandoned": 0}  # over: left alone
    assert queued.run() == [{"status": "abandoned"}] and not mail.outbox

    InvitationBatch.objects.filter(pk=batch.pk).update(abandoned_at=timezone.now())
    page = cockpit_client.get(reverse("invitation_list", args=[org.slug])).content.decode()
    assert "Sending 8 invitations was abandoned at" in page and "sent so far" not in page


def test_the_sweep_runs_every_30_seconds_on_the_beat():
    from cockpit.celery import app

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["enrollment-batch-sweep"]
    assert entry["task"] == tasks.invitation_batches_sweep.name and entry["task"] in app.tasks
    assert entry["schedule"] == 30.0  # a lapsed lease (90 s) is picked up within two minutes


# ---- a real worker killed mid-chunk, a real SMTP server -----------------------------------------------------------

SETUP = """
from core.actors import Actor
from core.models import Employee, Organization
from enrollment.services import invitation_send_bulk
org = Organization.objects.get(slug="acme")
people = Employee.objects.bulk_create(Employee(organization=org, email=f"p{i:03d}@acme.test", full_name=f"P {i}")
                                      for i in range(120))
print(invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people], actor=Actor.system("t")))
"""

STATE = """
from core.leases import lease_holder
from enrollment.models import Invitation, InvitationBatch
from enrollment.services.batches import lease_job
batch = InvitationBatch.objects.get()
live = lease_holder(organization=batch.organization, job=lease_job(batch.pk)) is not None
print("BATCH", batch.status, Invitation.objects.count(), live, batch.chunks_done, "|", batch.message)
"""

SWEEP = "from enrollment.tasks import invitation_batches_sweep; invitation_batches_sweep.delay()"


@pytest.mark.slow
def test_a_killed_worker_mid_chunk_leaves_a_batch_the_sweep_finishes(tmp_path):
    """120 invitations (chunks of 100), SQLite in a temporary folder, a 3 s lease; the SMTP server stops answering
    at the 31st e-mail and the worker is killed while it waits."""
    with SmtpServer() as smtp, Processes(tmp_path, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                                         EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port)) as processes:

        def state() -> str:
            return next(line for line in processes.shell(STATE).splitlines() if line.startswith("BATCH "))

        processes.manage("create_org", "acme", "--name", "Acme")
        smtp.hang_after = 30
        assert "'queued': 120" in processes.shell(SETUP)
        with processes.worker() as worker:
            wait_until(lambda: smtp.hanging.is_set() or worker.poll() is not None, timeout=90,
                       what="the worker to send 30 e-mails")
            assert worker.poll() is None, "the worker stopped on its own"
            # 30 sent and recorded, the 31st on its way. (On SQLite the e-mail leaves inside the write transaction
            # that records it, so the heartbeat waits for it: whether the 3 s lease still holds here is a race.)
            assert state().startswith("BATCH running 30 ")
            processes.kill(worker)
        killed_at = time.monotonic()
        smtp.release()  # the e-mail it was waiting for is dropped: never answered, never delivered
        assert state().startswith("BATCH running 30")  # what a killed worker leaves behind

        time.sleep(LEASE_SECONDS + 0.5)  # its lease lapses
        processes.shell(SWEEP)  # what the beat queues every 30 s
        with processes.worker():
            table = InvitationBatch._meta.db_table
            wait_until(lambda: processes.rows(f"SELECT status FROM {table}") == [("finished",)], timeout=90,
                       what="the batch to finish")
        assert time.monotonic() - killed_at < 120
        final = state()
        assert final.startswith("BATCH finished 120 False [0, 1] |") and "lease lapsed at" in final
        recipients = smtp.recipients()
        assert len(recipients) == 120 and len(set(recipients)) == 120  # everyone, each once
