"""Fixtures of the webhook tests: a receiver on loopback (private targets allowed, short timeouts), endpoints made
through the service, and the relay and the sender run in-process as a worker would."""

import pytest

from core.actors import Actor
from tests.webhooks.receiver import Receiver
from webhooks import outbox, services
from webhooks.tasks import webhooks_relay, webhooks_send

ALL_TYPES = ["device.assigned", "device.unassigned", "device.enrollment_changed", "device.wipe_confirmed",
             "device.wipe_failed", "employee.created", "offboarding.completed", "sync.failed"]


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on 127.0.0.1
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    settings.WEBHOOKS_MAX_ATTEMPTS = 8
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 15
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 24


@pytest.fixture(autouse=True)
def queued_sending(monkeypatch):
    """The organizations whose sender a commit queued: nothing reaches the broker (``send_now`` runs it instead)."""
    queued = []
    monkeypatch.setattr(outbox, "queue_sending", queued.append)
    return queued


@pytest.fixture
def send_now(monkeypatch):
    """The sender queued after commit runs in-process (the real Celery task, applied) instead of on the broker."""
    monkeypatch.setattr(outbox, "queue_sending",
                        lambda organization_id: webhooks_send.apply(args=[organization_id]).get())


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def endpoint(org, receiver):
    """An endpoint of ``org`` at the receiver, wanting every event type; the receiver knows its secret."""
    created, secret = services.endpoint_create(organization=org, actor=Actor.system("tests"), url=receiver.url,
                                               event_types=ALL_TYPES, description="HR system")
    receiver.secrets.append(secret)
    return created


@pytest.fixture
def relay(django_capture_on_commit_callbacks):
    """One relay pass, as beat runs it, with the callbacks of its commit (queuing the senders) run."""

    def run() -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return webhooks_relay.apply().get()

    return run
