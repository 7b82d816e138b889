"""End to end, with real processes: a reassignment with a wipe, committed by one process, is queued on the broker;
a real `celery worker` sends it to the Fleet simulator; a later `fleet_sync` confirms it (issue #10 §1).

Runs on the embedded defaults (SQLite file and filesystem broker in a temporary folder), so it needs no server
and passes the same way in both CI runs."""

import os
import time
from pathlib import Path

import pytest

from mdm_sync.simulator import FleetSimulator
from tests.worker_processes import Commands, migrated_database

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "worker-test-token"

pytestmark = [pytest.mark.real_broker, pytest.mark.slow]

SETUP = """
from core.actors import Actor
from core.models import Employee, Organization
from devices import services
from devices.models import Device

org = Organization.objects.get(slug="acme")
actor = Actor.system("worker test")
device = Device.objects.get(organization=org, fleet_host_id={host_id})
ada = Employee.objects.create(organization=org, email="ada@acme.test", full_name="Ada")
bob = Employee.objects.create(organization=org, email="bob@acme.test", full_name="Bob")
device = services.device_assign(device=device, employee=ada, actor=actor)
services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)  # committed: queued on the broker
"""

STATUS = """
from devices.models import DeviceCommand
print("STATUS", DeviceCommand.objects.get().status)
"""


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["COCKPIT_VAR_DIR"] = str(tmp_path)
    return env


def test_a_real_worker_sends_the_wipe_and_a_sync_confirms_it(tmp_path):
    env = _env(tmp_path)
    commands = Commands(env)  # the commands and the worker, forked from one Django process
    manage = commands.manage

    with commands, FleetSimulator(hosts=40, seed=3, token=TOKEN) as sim:
        host_id = next(h for h in sim.ids_in_situation("healthy") if sim.host_json(h)["platform"] == "darwin")
        migrated_database(tmp_path)
        manage("create_org", "acme", "--name", "Acme")
        manage("fleet_connect", "acme", "--url", sim.base_url, "--token", TOKEN)
        manage("fleet_sync", "acme")
        manage("shell", "-c", SETUP.format(host_id=host_id))
        assert "STATUS requested" in manage("shell", "-c", STATUS)

        wipe_call = ("POST", f"/api/v1/fleet/hosts/{host_id}/wipe")
        with commands.running("celery", "-A", "cockpit", "worker", "--pool", "solo", "--loglevel", "WARNING"):
            deadline = time.monotonic() + 90
            while wipe_call not in sim.requests_log and time.monotonic() < deadline:
                time.sleep(0.3)
            assert wipe_call in sim.requests_log, "the worker never sent the wipe"
            deadline = time.monotonic() + 30
            while "STATUS sent" not in (out := manage("shell", "-c", STATUS)) and time.monotonic() < deadline:
                time.sleep(0.3)
            assert "STATUS sent" in out

        sim.settle_device_actions()
        manage("fleet_sync", "acme")
        assert "STATUS confirmed" in manage("shell", "-c", STATUS)
