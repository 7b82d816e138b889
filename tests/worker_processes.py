"""Real processes for the killed-worker tests (issue #12 §1): ``manage.py`` commands and a ``celery worker``, on the
embedded defaults (SQLite and the filesystem broker in a temporary folder) with a short job lease.

The environment (:func:`embedded_env`) is a settings module in the test's folder setting ``JOB_LEASE_SECONDS``;
``extra_settings`` appends lines to it (``CELERY_IMPORTS`` of a module that slows one step down, so the test can kill
the worker in the middle of it). The database starts migrated (:func:`migrated_database`: a copy of a template
migrated once for the current migrations), and the test reads it with :meth:`Processes.rows` (plain SQL on the file)
rather than a ``manage.py shell`` per look: a Django process costs a second or two of CPU, and the tests poll."""

import fcntl
import functools
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

import django

__all__ = ["LEASE_SECONDS", "ROOT", "WORKER", "Processes", "embedded_env", "migrated_database"]

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 3
SETTINGS = """from cockpit.settings import *  # noqa: F403
JOB_LEASE_SECONDS = {seconds}
# The worker looks in the broker's folder every 0.1 s (kombu's default: every second), so a test waits less for it.
CELERY_BROKER_TRANSPORT_OPTIONS = {{**CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1}}  # noqa: F405
"""
# A worker alone on its broker: no waiting for other workers' replies at start (mingle), no gossip, no heartbeats.
WORKER = ["-m", "celery", "-A", "cockpit", "worker", "--pool", "solo", "--loglevel", "WARNING",
          "--without-mingle", "--without-gossip", "--without-heartbeat"]
DATABASE_FILE = "cockpit.sqlite3"  # cockpit.settings: VAR_DIR / "cockpit.sqlite3" without DATABASE_URL


def embedded_env(tmp_path, *, settings: str = SETTINGS.format(seconds=LEASE_SECONDS)) -> dict:
    """The environment of a process on the embedded defaults in ``tmp_path``: no DATABASE_URL, no REDIS_URL, and a
    settings module there (``lease_test_settings``: the project's settings with a short job lease)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    (tmp_path / "lease_test_settings.py").write_text(settings)
    env.update(COCKPIT_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="lease_test_settings",
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")])))
    return env


TEMPLATES = Path(tempfile.gettempdir()) / "cockpit-migrated-databases"


@functools.cache
def _migrations_key() -> str:
    """A digest of every installed app's migration files and of Django's version: equal keys, equal schemas."""
    from django.apps import apps

    digest = hashlib.sha256(django.get_version().encode())
    for app in sorted(apps.get_app_configs(), key=lambda config: config.label):
        for path in sorted((Path(app.path) / "migrations").glob("*.py")):
            digest.update(f"{app.label}/{path.name}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def _migrate_into(template: Path) -> None:
    """Run ``manage.py migrate`` on the embedded defaults in a folder of its own, then move its database to
    ``template`` whole (the WAL is checkpointed when the migrating process closes its connection)."""
    folder = Path(tempfile.mkdtemp(prefix="migrating-", dir=template.parent))
    try:
        result = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                                env=embedded_env(folder), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        os.replace(folder / DATABASE_FILE, template)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def migrated_database(var_dir) -> Path:
    """``var_dir``'s SQLite database, migrated to the head: a copy of a template that ``manage.py migrate`` made once
    for these migrations (named by their digest, shared by the parallel workers and kept between runs: a run with
    other migrations makes its own; templates unused for a day are removed)."""
    TEMPLATES.mkdir(exist_ok=True)
    template = TEMPLATES / f"{_migrations_key()}.sqlite3"
    target = Path(var_dir) / DATABASE_FILE
    with open(TEMPLATES / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process migrates; the others wait for its template
        if not template.exists():
            _migrate_into(template)
            for old in TEMPLATES.glob("*.sqlite3"):
                if time.time() - old.stat().st_mtime > 86400:
                    old.unlink(missing_ok=True)
        shutil.copyfile(template, target)
        os.utime(template)  # used now
    return target


def rows(var_dir, sql: str, *params) -> list[tuple]:
    """What ``sql`` reads from ``var_dir``'s database, from this process (read-only: the processes own the writes)."""
    with closing(sqlite3.connect(Path(var_dir) / DATABASE_FILE, timeout=20)) as db:
        return db.execute(sql, params).fetchall()


class Processes:
    def __init__(self, tmp_path, *, extra_settings: str = "", **environ):
        self.tmp_path = tmp_path
        self.env = embedded_env(tmp_path)
        migrated_database(tmp_path)
        if extra_settings:
            with (tmp_path / "lease_test_settings.py").open("a") as settings:
                settings.write(extra_settings)
        self.env.update(environ)

    def manage(self, *args, check: bool = True) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=180)
        assert result.returncode == 0 or not check, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def rows(self, sql: str, *params) -> list[tuple]:
        return rows(self.tmp_path, sql, *params)

    @contextmanager
    def worker(self):
        """A real ``celery worker`` (one process: the task runs in it, so SIGKILL stops the task mid-step)."""
        process = subprocess.Popen([sys.executable, *WORKER], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    @staticmethod
    def kill(process) -> None:
        """SIGKILL: nothing after the current line of the worker runs, not even ``finally`` (the lease is not
        released; the heartbeat thread dies with it)."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def wait_until(predicate, *, timeout: float, every: float = 0.3, what: str = "the condition"):
    """Poll ``predicate`` until it answers something true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def flag(path, on: bool) -> None:
    """A file the slowed-down step looks for: present, it sleeps; removed, the next worker runs at full speed."""
    if on:
        path.touch()
    elif os.path.exists(path):
        path.unlink()
