"""A full disk (issue #12 §6). The exports (the device CSV, an import's rejected rows, the template) are streamed
from the database to the client and write nothing on the server's disk. What the product does write: the job
queue of the embedded broker (``var/broker/``, ``core.broker``), the sync's spill (``tests/mdm_sync/test_faults.py``)
and the installer build (``tests/enrollment/test_installers.py``). A full disk fails that one action with a clear
answer, and leaves no partial file behind and nothing half-recorded."""

import builtins
import errno
import os
import tempfile

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from kombu import Connection

from core import broker
from core.actors import Actor
from mdm_sync.models import SyncRun
from mdm_sync.services import fleet_connection_save
from tests.factories import DeviceFactory

REAL_OPEN = builtins.open


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class FillsUp:
    """A file that takes ``room`` bytes and then fails as a full disk does (``ENOSPC``), the bytes written so far
    left on disk."""

    def __init__(self, handle, room: int):
        self.handle, self.room = handle, room

    def write(self, data):
        self.handle.write(data[:self.room])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def full_disk_open(name, mode="r", *args, **kwargs):
    handle = REAL_OPEN(name, mode, *args, **kwargs)
    return FillsUp(handle, room=10) if "w" in mode else handle


def test_the_device_export_streams_from_the_database_and_needs_no_disk(cockpit_client, org, monkeypatch):
    for n in range(30):
        DeviceFactory(organization=org, serial_number=f"C02FULL{n:04d}", name=f"mbp-{n}")
    response = cockpit_client.get(reverse("device_export", args=[org.slug]))
    assert response.status_code == 200 and response.streaming
    # The rows are produced while the client reads them: from here on, nothing could be written to disk.
    monkeypatch.setattr(builtins, "open", full_disk_open)
    for name in ("mkstemp", "mkdtemp", "TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_space)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    monkeypatch.undo()
    lines = body.splitlines()
    assert lines[0].startswith("Serial number,") and len(lines) == 31 and "C02FULL0029" in body


def _queue_folders(tmp_path) -> dict:
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}


def test_a_full_disk_on_the_embedded_job_queue_leaves_no_partial_message(tmp_path, monkeypatch):
    """kombu's own filesystem transport left the truncated message in the queue, and a worker reading it died
    ("Unrecoverable error: JSONDecodeError") at each restart. ``core.broker`` writes it whole or not at all."""
    options = _queue_folders(tmp_path)
    with Connection("filesystem://", transport="core.broker:FilesystemTransport", transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        monkeypatch.setattr(broker, "open", full_disk_open, raising=False)
        with pytest.raises(conn.channel_errors + (OSError,)):
            queue.put({"task": "lost"}, retry=False)
        monkeypatch.undo()
        assert not list((tmp_path / "queue").iterdir())  # neither the message nor its part file
        queue.put({"task": "next"})
        assert queue.get(timeout=5).payload == {"task": "next"}  # the queue works once there is room again
        queue.close()


@pytest.mark.skipif(django_settings.CELERY_BROKER_URL != "filesystem://", reason="the embedded broker only")
@pytest.mark.django_db(transaction=True)
def test_a_full_disk_when_a_sync_is_asked_for_is_a_503_and_nothing_is_recorded(org, api, monkeypatch):
    fleet_connection_save(organization=org, url="http://127.0.0.1:9", token="t", actor=Actor.system("tests"),
                          test=False)
    queue = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"]
    before = set(os.listdir(queue))
    monkeypatch.setattr(broker, "open", full_disk_open, raising=False)
    response = api.post("/api/v1/sync-runs/", {}, format="json")
    monkeypatch.undo()
    assert response.status_code == 503, response.content
    body = response.json()
    assert set(body) == {"status", "code", "detail", "fields"} and body["code"] == "unavailable"
    assert set(os.listdir(queue)) == before and not SyncRun.objects.exists()
