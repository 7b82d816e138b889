"""Redis down is not an outage (issue #12 §3), with real processes: a cockpit whose REDIS_URL points at a closed port
(cache and broker both) still lists, edits and signs in from the database; work that needs the broker answers 503
in the one error shape (or the enrollment page's own 503); /healthz reports the fault."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker_processes import migrated_database

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import json
from django.contrib.auth import get_user_model
from django.test import Client
from core.actors import Actor
from core.models import Employee, Membership
from core.services import api_token_create, membership_add, organization_create
from devices.models import Device
from mdm_sync.services import fleet_connection_save

system = Actor.system("redis-down test")
org = organization_create(slug="acme", name="Acme", actor=system)
user = get_user_model().objects.create_user(username="ada@acme.test", email="ada@acme.test",
                                            password="correct-horse-battery-9")
membership_add(organization=org, user=user, role=Membership.Role.ADMIN, actor=system)
Employee.objects.create(organization=org, email="bob@acme.test", full_name="Bob")
_token, key = api_token_create(organization=org, name="HR", scope="write", actor=system)
fleet_connection_save(organization=org, url="http://127.0.0.1:9", token="t", actor=system, test=False)
device = Device.objects.create(organization=org, name="mbp", serial_number="C02REDIS")
out = {}
api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
out["list"] = api.get("/api/v1/devices/").status_code
patched = api.patch(f"/api/v1/devices/{device.pk}/", data=json.dumps({"name": "renamed"}),
                    content_type="application/json")
out["patch"] = patched.status_code
device.refresh_from_db()
out["renamed"] = device.name
sync = api.post("/api/v1/sync-runs/", data="{}", content_type="application/json")
out["sync"] = [sync.status_code, sync.json()]
web = Client()
out["login"] = web.post("/login/", {"username": "ada@acme.test", "password": "correct-horse-battery-9"}).status_code
out["inventory"] = web.get("/o/acme/devices/").status_code
out["signin"] = Client().post("/enroll/acme/sign-in/", {"email": "bob@acme.test"}).status_code
health = Client().get("/healthz")
out["healthz"] = [health.status_code, health.json()]
print("RESULT " + json.dumps(out))
'''


@pytest.mark.slow
def test_with_redis_unreachable_the_cockpit_keeps_working_and_says_what_is_down(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(REDIS_URL="redis://127.0.0.1:1/0", COCKPIT_VAR_DIR=str(tmp_path), ALLOWED_HOSTS="testserver")

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=180)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    migrated_database(tmp_path)
    result = manage("shell", "-c", SCRIPT)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    out = json.loads(line.removeprefix("RESULT "))
    assert (out["list"], out["patch"], out["renamed"]) == (200, 200, "renamed")
    status, body = out["sync"]
    assert status == 503 and set(body) == {"status", "code", "detail", "fields"} and body["code"] == "unavailable"
    assert out["login"] == 302 and out["inventory"] == 200
    assert out["signin"] == 503
    status, health = out["healthz"]
    assert status == 503 and health["database"] == "ok" and health["broker"].startswith("error")
    assert "Traceback" not in result.stderr
    assert "Cache unavailable" in result.stderr  # logged, not silent
