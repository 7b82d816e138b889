"""Real processes for the killed-worker tests (issue #12 §1): ``manage.py`` commands and a ``celery worker``, on the
embedded defaults (SQLite and the filesystem broker in a temporary folder) with a short job lease.

The environment (:func:`embedded_env`) is a settings module in the test's folder setting ``JOB_LEASE_SECONDS``;
``extra_settings`` appends lines to it (``CELERY_IMPORTS`` of a module that slows one step down, so the test can kill
the worker in the middle of it). The database starts migrated (:func:`migrated_database`: a copy of a template
migrated once for the current migrations), and the test reads it with :meth:`Processes.rows` (plain SQL on the file)
rather than a ``manage.py shell`` per look: a Django process costs a second or two of CPU, and the tests poll.

The commands a test runs (:class:`Commands`: ``manage.py`` with its arguments, ``shell -c`` snippets included) are
processes of their own too, but forked from one Django process started for the test (a "zygote": Django set up and
the URLconf imported once, ~1-2 CPU-s, instead of once per command); each command starts from that state, with no
connection open and empty caches, runs in its own process and exits. The workers a test kills are forked from it
the same way (:meth:`Commands.spawn`, :meth:`Processes.worker`): a real ``celery worker`` (or command) in a process
of its own, that SIGKILL stops mid-step, only without the second or two of Django's start-up."""

import atexit
import fcntl
import functools
import hashlib
import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import django

__all__ = ["LEASE_SECONDS", "ROOT", "WORKER", "Commands", "Processes", "Spawned", "embedded_env", "migrated_database"]

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


def serve_commands() -> None:
    """The zygote (``python -c``, in the project's folder, in the commands' environment): Django set up as
    ``manage.py`` sets it up, then, for each request read on stdin (a JSON line: the program, ``manage.py`` or
    ``celery``, its arguments and the files for its output), a fork that runs it (:func:`_command`) and exits with
    its exit code, which is the JSON line answered on stdout; a ``spawn`` request is answered at once with the
    fork's pid (the fork is reaped at the next request: until then it is a zombie, which :class:`Spawned` reads as
    ended)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cockpit.settings")  # as manage.py
    django.setup()
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the URLconf each command's system checks import (SCIM's models: ~0.6 s)
    connections.close_all()  # a command opens its own
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else the zygote prints is not an answer
    while line := sys.stdin.readline():
        request = json.loads(line)
        with suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # the spawned processes that ended
                pass
        pid = os.fork()
        if pid == 0:  # the command's process: its own output files, no stdin, then manage.py's main and exit
            code = 1
            try:
                replies.close()
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
                os.dup2(os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
                code = _command(request["program"], request["args"])
            finally:
                os._exit(code)  # never back in this loop
        if request["spawn"]:
            replies.write(json.dumps({"pid": pid}) + "\n")
        else:
            _, status = os.waitpid(pid, 0)
            replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()
    os._exit(0)  # stdin closed: the test is over (nothing to tear down, see _command)


def _command(program: str, args: list[str]) -> int:
    """``manage.py`` (or ``celery``) with ``args`` in this (forked) process, then what its exit does that can be
    seen: the exit functions, the database connections closed, the output flushed. The exit code: the program's.
    The interpreter's own teardown (finalizing every module of a forked Django: ~0.45 CPU-s, more than a command) is
    left out."""
    from celery.bin.celery import main as celery
    from django.core.management import execute_from_command_line
    from django.db import connections

    code = 0
    sys.argv = [program, *args]
    try:
        if program == "celery":
            celery()
        else:
            execute_from_command_line(sys.argv)
    except SystemExit as exit:  # as the interpreter reads it
        code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
        if not isinstance(exit.code, int | None):
            print(exit.code, file=sys.stderr)
    except BaseException:  # what the interpreter would print before exiting with 1
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


class Commands:
    """``manage.py`` commands in ``env`` (with ``cwd`` the project's folder), each a process forked from the test's
    zygote (:func:`serve_commands`, started at the first command); :meth:`close` ends it and anything it forked."""

    def __init__(self, env: dict):
        self.env = env
        self.zygote = None
        self.folder = Path(tempfile.mkdtemp(prefix="commands-"))

    def _ask(self, program: str, args, *, spawn: bool, stdout: Path, stderr: Path, timeout: float) -> dict:
        if self.zygote is None:
            self.zygote = subprocess.Popen(
                [sys.executable, "-c", "from tests.worker_processes import serve_commands; serve_commands()"],
                cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                start_new_session=True)  # its own process group: close() ends the processes it forked with it
        self.zygote.stdin.write(json.dumps({"program": program, "args": list(args), "spawn": spawn,
                                            "stdout": str(stdout), "stderr": str(stderr)}) + "\n")
        self.zygote.stdin.flush()
        if not select.select([self.zygote.stdout], [], [], timeout)[0]:
            self.close()
            raise subprocess.TimeoutExpired([program, *args], timeout)
        reply = self.zygote.stdout.readline()
        assert reply, f"the zygote stopped (exit code {self.zygote.wait()}) running {program} {' '.join(args)}"
        return json.loads(reply)

    def run(self, *args, timeout: float = 180) -> subprocess.CompletedProcess:
        out, err = self.folder / "stdout", self.folder / "stderr"
        reply = self._ask("manage.py", args, spawn=False, stdout=out, stderr=err, timeout=timeout)
        return subprocess.CompletedProcess(["manage.py", *args], reply["returncode"], out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def spawn(self, program: str, *args) -> "Spawned":
        """``program`` (``manage.py`` or ``celery``) with ``args`` in a process forked from the zygote, left running
        (its output discarded): what ``subprocess.Popen`` would start, without Django's start-up."""
        reply = self._ask(program, args, spawn=True, stdout=Path(os.devnull), stderr=Path(os.devnull), timeout=60)
        return Spawned(reply["pid"])

    @contextmanager
    def running(self, program: str, *args):
        """:meth:`spawn`, for a ``with`` block: a process still running at its end (the test did not kill it, or
        failed) is stopped, SIGTERM then, after 30 s, SIGKILL."""
        process = self.spawn(program, *args)
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

    def manage(self, *args, check: bool = True) -> str:
        """``manage.py`` with ``args``: what it printed (stdout, then stderr); ``check``: it must exit with 0."""
        result = self.run(*args)
        assert result.returncode == 0 or not check, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.stdin.close()
            try:
                self.zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.zygote.kill()
                self.zygote.wait()
            with suppress(ProcessLookupError):  # a process it spawned that the test left running (a failed test)
                os.killpg(self.zygote.pid, signal.SIGKILL)
            self.zygote.stdout.close()
            self.zygote = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Spawned:
    """A process the zygote forked (not this process's child): the part of ``subprocess.Popen`` the tests use.
    Its exit code is not known here: :attr:`returncode` is -1 once it ended."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                with open(f"/proc/{self.pid}/stat") as stat:
                    state = stat.read().rpartition(")")[2].split()[0]
            except FileNotFoundError:
                state = "X"
            if state in {"Z", "X"}:  # a zombie (not reaped yet) or gone
                self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Processes(Commands):
    """A test's processes on the embedded defaults in ``tmp_path``: its commands (:class:`Commands`) and its
    ``celery worker`` processes. Use it as a context manager (its zygote ends with the block)."""

    def __init__(self, tmp_path, *, extra_settings: str = "", **environ):
        self.tmp_path = tmp_path
        env = embedded_env(tmp_path)
        migrated_database(tmp_path)
        if extra_settings:
            with (tmp_path / "lease_test_settings.py").open("a") as settings:
                settings.write(extra_settings)
        env.update(environ)
        super().__init__(env)

    def rows(self, sql: str, *params) -> list[tuple]:
        return rows(self.tmp_path, sql, *params)

    def worker(self):
        """A real ``celery worker``, forked from the zygote (one process: the task runs in it, so SIGKILL stops the
        task mid-step); a context manager (:meth:`Commands.running`)."""
        return self.running("celery", *WORKER[2:])

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
