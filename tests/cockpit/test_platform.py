"""The deployment surface: production settings, the Celery app and its embedded broker."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.celery import app
from tests.worker_processes import Commands, migrated_database

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(extra)
    return env


def test_production_settings_pass_check_deploy(tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="cockpit.production_settings",
        SECRET_KEY="k" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        COCKPIT_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = clean_env(DJANGO_SETTINGS_MODULE="cockpit.production_settings", COCKPIT_VAR_DIR=str(tmp_path))
    env.pop("SECRET_KEY", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    assert app.conf.beat_schedule, "the beat schedule is empty"
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, f"beat schedules an unknown task {entry['task']}"


@pytest.mark.slow
def test_real_worker_runs_a_task_on_the_embedded_broker(tmp_path):
    """No DATABASE_URL, no REDIS_URL: a real `celery worker` takes a task from the filesystem broker."""
    commands = Commands(clean_env(COCKPIT_VAR_DIR=str(tmp_path)))  # the shell and the worker: forks of one Django
    migrated_database(tmp_path)
    with commands:
        _queue_then_run_on_a_real_worker(commands, tmp_path / "cockpit.sqlite3")


def _queue_then_run_on_a_real_worker(commands, database) -> None:
    commands.shell(
        "from datetime import timedelta; from django.utils import timezone; "
        "from django.contrib.sessions.models import Session; "
        "Session.objects.create(session_key='expired', session_data='', expire_date=timezone.now()-timedelta(days=1)); "
        "from core.tasks import clear_expired_sessions; clear_expired_sessions.delay()"
    )
    with commands.running("celery", "-A", "cockpit", "worker", "--pool", "solo", "--loglevel", "WARNING"):
        deadline = time.monotonic() + 60
        remaining = 1
        while time.monotonic() < deadline:
            with sqlite3.connect(database) as db:
                remaining = db.execute("select count(*) from django_session").fetchone()[0]
            if remaining == 0:
                break
            time.sleep(0.5)
        assert remaining == 0, "the worker never ran the queued task"
