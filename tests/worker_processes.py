"""Real processes for the killed-worker tests (issue #12 §1): ``manage.py`` commands and a ``celery worker``, on the
embedded defaults (SQLite and the filesystem broker in a temporary folder) with a short job lease.

The environment is the one ``tests/mdm_sync/test_leases.py`` builds for its killed ``fleet_sync`` (a settings module
in the folder setting ``JOB_LEASE_SECONDS``); ``extra_settings`` appends lines to it (``CELERY_IMPORTS`` of a module
that slows one step down, so the test can kill the worker in the middle of it)."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

from tests.mdm_sync.test_leases import LEASE_SECONDS, ROOT, _env

__all__ = ["LEASE_SECONDS", "Processes"]


class Processes:
    def __init__(self, tmp_path, *, extra_settings: str = "", **environ):
        self.tmp_path = tmp_path
        self.env = _env(tmp_path)
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

    @contextmanager
    def worker(self):
        """A real ``celery worker`` (one process: the task runs in it, so SIGKILL stops the task mid-step)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cockpit", "worker", "--pool", "solo", "--loglevel", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
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
