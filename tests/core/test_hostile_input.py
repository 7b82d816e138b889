"""Hostile or careless input gets a clear 4xx in the API's one error shape and changes nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_error
from tests.factories import DeviceFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["null", "0", "-1", "501", "100000", "abc", "1.5", "²"])
def test_a_page_size_out_of_range_is_refused_not_capped(api, org, value):
    DeviceFactory(organization=org)
    body = assert_error(api.get(f"/api/v1/devices/?page_size={value}"), 400, code="invalid", field="page_size")
    assert "1 to 500" in body["detail"]


def test_a_page_size_in_range_is_honoured(api, org):
    DeviceFactory.create_batch(3, organization=org)
    body = api.get("/api/v1/devices/?page_size=2").json()
    assert len(body["results"]) == 2 and body["count"] == 3


def test_a_json_body_over_the_limit_is_413_in_the_error_shape(api, org, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    device = DeviceFactory(organization=org, name="before")
    payload = '{"name": "' + "x" * 5000 + '"}'
    response = api.generic("PATCH", f"/api/v1/devices/{device.pk}/", payload, content_type="application/json")
    body = assert_error(response, 413, code="too_large")
    assert "1,000" in body["detail"]
    device.refresh_from_db()
    assert device.name == "before"


def test_production_settings_without_a_secret_key_say_so_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(DJANGO_SETTINGS_MODULE="cockpit.production_settings", COCKPIT_VAR_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "SECRET_KEY environment variable is not set" in result.stderr and "Traceback" not in result.stderr
