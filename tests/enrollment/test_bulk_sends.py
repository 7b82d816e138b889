"""Bulk sends leave the request: inviting everyone not enrolled (or a large selection) and fix instructions for
many devices are sent by Celery tasks, one per chunk, each queueing the next. The cockpit answers at once, the pages
show the progress, and a chunk delivered twice or retried after a mail server error e-mails nobody twice."""

import logging

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.leases import JobLease
from core.models import AuditEvent, Employee
from devices.models import EnrollmentStatus
from enrollment import services
from enrollment.models import Invitation, InvitationBatch
from enrollment.services import batches
from tests.factories import DeviceFactory, EmployeeFactory

LIMIT, CHUNK = 5, 4  # small numbers, the same rules as 50 and 100


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(batches, "BULK_SEND_NOW_LIMIT", LIMIT)
    monkeypatch.setattr(batches, "BULK_CHUNK_SIZE", CHUNK)


def staff(org, n, prefix="e"):
    return [EmployeeFactory(organization=org, email=f"{prefix}{i:02d}@acme.test", full_name=f"Person {prefix}{i:02d}")
            for i in range(n)]


def invite_all(client, org, capture):
    with capture(execute=True):
        return client.post(reverse("invitation_list", args=[org.slug]), {"scope": "all_not_enrolled"}, follow=True)


def test_invite_all_answers_at_once_then_the_list_fills_in(cockpit_client, org, queued,
                                                           django_capture_on_commit_callbacks):
    people = staff(org, 10)
    response = invite_all(cockpit_client, org, django_capture_on_commit_callbacks)
    assert "Sending 10 invitations in the background" in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox  # nothing sent during the request
    batch = InvitationBatch.objects.get()
    assert (batch.kind, batch.total, batch.chunks, batch.organization_id) == ("invitations", 10, 3, org.pk)
    assert (batch.status, batch.item_ids) == ("running", [p.pk for p in people])
    assert [len(args[3]) for _task, args in queued] == [4]  # the first chunk; each queues the next when done
    assert AuditEvent.objects.for_org(org).filter(event="enrollment.bulk_queued").count() == 1

    queued.run()
    page = cockpit_client.get(reverse("invitation_list", args=[org.slug])).content.decode()
    assert "Sending 10 invitations: 4 sent so far." in page and '<progress max="10" value="4">' in page
    assert 'hx-get="/o/acme/enrollment/invitations/?part=sends" hx-trigger="every 2s"' in page  # live, no reload
    live = cockpit_client.get(reverse("invitation_list", args=[org.slug]), {"part": "sends"}).content.decode()
    assert live.startswith('<div id="bulk-sends"') and "4 sent so far" in live and "<html" not in live
    assert page.count("(Invitation)") == 4  # the last-invitation column of the four sent
    assert [(args[2], len(args[3])) for _task, args in queued] == [(0, 4), (1, 4)]

    queued.run_all()
    assert [(args[2], len(args[3])) for _task, args in queued] == [(0, 4), (1, 4), (2, 2)]
    page = cockpit_client.get(reverse("invitation_list", args=[org.slug])).content.decode()
    assert "sent so far" not in page and page.count("(Invitation)") == 10
    assert 'hx-trigger="every 2s"' not in page  # nothing being sent: the block stops polling
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    batch.refresh_from_db()
    assert batch.finished_at is not None and batch.chunks_done == [0, 1, 2] and batch.status == "finished"
    assert not JobLease.objects.exists()  # the batch's lease goes with it
    sent = AuditEvent.objects.for_org(org).filter(event="enrollment.invitation_sent")
    assert sent.count() == 10 and {e.actor_type for e in sent} == {"user"}  # the admin, read back in the worker
    assert set(Invitation.objects.values_list("sent_by", flat=True)) == {batch.requested_by}


def test_the_request_costs_the_same_for_more_employees(cockpit_client, org, queued,
                                                       django_capture_on_commit_callbacks):
    cockpit_client.get(f"/o/{org.slug}/")  # the user and memberships are cached from here on
    staff(org, 6, "a")
    with CaptureQueriesContext(connection) as small:
        invite_all(cockpit_client, org, django_capture_on_commit_callbacks)
    Invitation.objects.all().delete()
    staff(org, 30, "b")
    with CaptureQueriesContext(connection) as large:
        invite_all(cockpit_client, org, django_capture_on_commit_callbacks)
    assert len(large) == len(small)  # one batch row, however many chunks
    assert len(queued) == 1 + 1  # the first chunk of each


def test_a_redelivered_chunk_invites_nobody_twice(org, actor, queued, django_capture_on_commit_callbacks):
    people = staff(org, 8)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people], actor=actor)
    assert outcome["queued"] == 8 and outcome["skipped"] == 0
    first, second = queued.run_all()
    assert (first["sent"], second["sent"]) == (4, 4)
    queued.append(queued[0])  # the broker hands the first chunk out again (acks_late, worker lost)
    assert queued.run() == [{"status": "done before"}]
    batch = InvitationBatch.objects.get()
    InvitationBatch.objects.filter(pk=batch.pk).update(chunks_done=[1], status="running", finished_at=None)
    queued.append(queued[0])  # …even one whose end was never counted: each invitation is checked again
    again = queued.run()[0]
    assert (again["sent"], again["already"]) == (0, 4)
    assert len(mail.outbox) == 8 and Invitation.objects.count() == 8
    batch = InvitationBatch.objects.get()
    assert batch.chunks_done == [0, 1] and batch.skipped == 0


def test_a_mail_failure_retries_the_chunk_and_sends_the_rest_once(org, actor, queued, monkeypatch, caplog,
                                                                 django_capture_on_commit_callbacks):
    people = staff(org, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people], actor=actor)
    real_send = mail.EmailMultiAlternatives.send
    calls = []

    def third_fails(self, fail_silently=False):
        calls.append(self.to[0])
        if len(calls) == 3:
            raise ConnectionResetError("smtp hung up")
        return real_send(self, fail_silently=fail_silently)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", third_fails)
    with caplog.at_level(logging.WARNING, logger="enrollment.services.batches"):
        results = queued.run_all()
    assert results[0]["sent"] == 2 and results[1]["sent"] == 2  # the retry sent the two left
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)  # each exactly once
    assert Invitation.objects.count() == 6
    assert "the mail server failed (ConnectionResetError)" in caplog.text


def test_mail_down_for_good_stops_after_the_bounded_retries(org, actor, queued, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    people = staff(org, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people], actor=actor)
    attempts = []

    def down(self, fail_silently=False):
        attempts.append(1)
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", down)
    result = queued[0][0].apply(args=queued[0][1])
    assert result.failed() and isinstance(result.result, ConnectionRefusedError)
    assert len(attempts) == services.BULK_MAIL_RETRIES + 1
    assert not Invitation.objects.exists()  # nothing recorded as sent that was not
    assert InvitationBatch.objects.get().status == "running"  # the sweep picks it up (test_bulk_send_leases.py)


def test_offboarded_before_their_turn_are_skipped(org, actor, queued, django_capture_on_commit_callbacks):
    people = staff(org, 7)
    gone = EmployeeFactory(organization=org, status=Employee.Status.OFFBOARDED)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.invitation_send_bulk(organization=org, employee_ids=[p.pk for p in people] + [gone.pk],
                                                actor=actor)
    assert (outcome["queued"], outcome["skipped"]) == (7, 1)
    Employee.objects.filter(pk=people[0].pk).update(status=Employee.Status.OFFBOARDED)
    queued.run_all()
    batch = InvitationBatch.objects.get()
    assert batch.skipped == 1 and batch.finished_at is not None and len(mail.outbox) == 6


def test_a_selection_of_other_organizations_employees_queues_nothing(cockpit_client, org, other_org, queued,
                                                                      django_capture_on_commit_callbacks):
    foreign = staff(other_org, 8, "x")
    with django_capture_on_commit_callbacks(execute=True):
        cockpit_client.post(reverse("invitation_list", args=[org.slug]), {"employee": [p.pk for p in foreign]})
    assert not queued and not InvitationBatch.objects.exists() and not Invitation.objects.exists()


def test_a_small_selection_is_still_sent_during_the_request(cockpit_client, org, queued,
                                                            django_capture_on_commit_callbacks):
    people = staff(org, LIMIT)
    with django_capture_on_commit_callbacks(execute=True):
        cockpit_client.post(reverse("invitation_list", args=[org.slug]), {"employee": [p.pk for p in people]})
    assert not queued and len(mail.outbox) == LIMIT and not InvitationBatch.objects.exists()


# --- fix instructions from the troubleshooting view ---------------------------------------------------------------


def test_bulk_fix_instructions_are_queued_and_idempotent(cockpit_client, org, queued,
                                                         django_capture_on_commit_callbacks):
    owners = staff(org, 4)
    common = {"availability_status": "in_use", "assignment_status": "assigned",
              "enrollment_status": EnrollmentStatus.PARTIALLY_ENROLLED, "enrollment_issues": ["agent_missing"]}
    devices = [DeviceFactory(organization=org, name=f"dev-{i}", assignee=owners[i % 4], **common) for i in range(7)]
    nobody = DeviceFactory(organization=org, name="dev-nobody", enrollment_issues=["agent_missing"],
                           enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED)
    with django_capture_on_commit_callbacks(execute=True):
        response = cockpit_client.post(reverse("troubleshooting_send", args=[org.slug]),
                                       {"device": [d.pk for d in devices] + [nobody.pk]}, follow=True)
    assert "Sending the fix instructions for 8 devices in the background" in response.content.decode()
    assert not mail.outbox and len(queued) == 1
    queued.run()
    page = cockpit_client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
    assert "Sending the fix instructions for 8 devices: 4 sent so far." in page
    queued.append(queued[0])  # the first chunk again: nothing to send
    queued.run_all()
    assert len(mail.outbox) == 7  # one per owned device (an owner of two devices gets two), none twice
    assert sorted(Invitation.objects.values_list("device_id", flat=True)) == sorted(d.pk for d in devices)
    batch = InvitationBatch.objects.get()
    assert batch.kind == "fix_instructions" and batch.skipped == 1 and batch.finished_at is not None
    assert "sent so far" not in cockpit_client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
