"""What ``bench_sync.py`` measures inside each phase's own process: its peak RSS and CPU-seconds, and a
:class:`Probe` that counts and times the sync's SQL (by stage and kind), its HTTP requests and its two phases, by
wrapping, in that process only, Django's connection, psycopg's ``COPY`` and module attributes of the app."""

import re
import resource
import time
from collections import Counter
from pathlib import Path


def maxrss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` (ru_maxrss carries the parent's peak across fork + exec, and the
    driver holds the captured pages), else ``ru_maxrss``."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"([^"]+)"', re.I)


_COPY_TABLE = re.compile(r'^\s*COPY\s+"?([\w]+)"?', re.I)


def _query_kind(sql: str) -> str:
    """``SELECT devices_device``, ``UPDATE devices_device``, ``COPY cockpit_auditevent``, ``SAVEPOINT``…"""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb == "COPY":
        match = _COPY_TABLE.match(sql)
        table = match.group(1) if match else "?"
        return f"COPY {'(staging)' if table.startswith('mdm_sync_stage_') else table}"
    match = _TABLE.search(sql)
    return f"{verb} {match.group(1)}" if match and verb in {"SELECT", "INSERT", "UPDATE", "DELETE"} else verb


class Probe:
    """Counts SQL and HTTP calls and times the sync's two phases, without touching the app's code:
    an ``execute_wrapper`` on the connection, and wrappers around module attributes of this process."""

    def __init__(self):
        self.stage = "other"
        self.queries: Counter = Counter()  # (stage, kind) -> count
        self.query_s: Counter = Counter()  # stage -> seconds
        self.http: Counter = Counter()  # request kind -> count
        self.http_kind_s: Counter = Counter()  # request kind -> seconds
        self.http_s = 0.0
        self.stage_s: dict[str, float] = {}
        self.rss_after: dict[str, float] = {}

    def execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.query_s[self.stage] += time.perf_counter() - started
            self.queries[(self.stage, _query_kind(sql))] += 1

    def wrap_copy(self):
        """psycopg's ``COPY`` does not go through Django's execute wrappers: count and time it here."""
        import contextlib

        import psycopg

        original = psycopg.Cursor.copy
        probe = self

        @contextlib.contextmanager
        def copy(cursor, statement, *args, **kwargs):
            started = time.perf_counter()
            try:
                with original(cursor, statement, *args, **kwargs) as copying:
                    yield copying
            finally:
                probe.query_s[probe.stage] += time.perf_counter() - started
                probe.queries[(probe.stage, _query_kind(str(statement)))] += 1

        psycopg.Cursor.copy = copy

    def wrap_client(self):
        from mdm_sync.fleet import FleetClient

        original = FleetClient._request
        probe = self

        def _request(client, method, path, **kwargs):
            kind = "list page" if path.endswith("/hosts") else "count" if path.endswith("/count") else (
                f"{method} host" if re.search(r"/hosts/\d+$", path) else f"{method} other")
            started = time.perf_counter()
            try:
                return original(client, method, path, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                probe.http_s += elapsed
                probe.http_kind_s[kind] += elapsed
                probe.http[kind] += 1

        FleetClient._request = _request

    def wrap_stage(self, module, name: str, stage: str):
        original = getattr(module, name)
        probe = self

        def wrapper(*args, **kwargs):
            previous, probe.stage = probe.stage, stage
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                probe.stage_s[stage] = probe.stage_s.get(stage, 0.0) + time.perf_counter() - started
                probe.rss_after[stage] = maxrss_mb()
                probe.stage = previous

        setattr(module, name, wrapper)

    def as_dict(self) -> dict:
        return {
            "queries": sum(self.queries.values()),
            "queries_by": [[stage, kind, n] for (stage, kind), n in sorted(self.queries.items())],
            "query_s": dict(self.query_s),
            "http": dict(self.http),
            "http_kind_s": dict(self.http_kind_s),
            "http_s": self.http_s,
            "stage_s": self.stage_s,
            "rss_after": self.rss_after,
        }
