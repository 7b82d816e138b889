"""Device list latency with a 100,000-device organization in PostgreSQL, next to a trivial view.

Run from the project root (``make bench`` runs the first form, as a script path)::

    .venv/bin/python -m benchmarks.bench_device_list                      # 100,000 devices, 200 requests
    .venv/bin/python -m benchmarks.bench_device_list --devices 5000       # quick run

What it does, in order:

1. Creates (or reuses, when already seeded with exactly the same sizes) a dedicated database,
   ``cockpit_bench`` by default, runs the migrations and seeds it: an organization ``bench`` with an
   owner, a write API token, employees, groups and ``--devices`` devices written with ``COPY``, plus a
   smaller second organization so that ``organization_id`` is not the same on every row. Then
   ``VACUUM ANALYZE``.
2. Starts gunicorn (``--workers`` sync workers, 127.0.0.1 on a free port, ``benchmarks.settings``).
3. Warms up, then times ``--requests`` sequential requests per page, interleaved round-robin so
   that every page sees the same machine noise: the trivial view, the API list (first page and
   filtered) and the cockpit inventory (first page and filtered).
4. Prints median, p95, req/s and the ratio of each median to the trivial view's median (target:
   below 5), then the SQL each list runs per request (measured in-process), with ``--explain`` the
   ``EXPLAIN (ANALYZE, BUFFERS)`` of each query.

gunicorn is always stopped, even on error. The exit status is 0 when the measurements ran, whether
or not a ratio meets the target (this is a report); it is 1 when the benchmark itself failed.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cockpit_bench"
SETTINGS_MODULE = "benchmarks.settings"
TARGET_RATIO = 5.0
HOST = "127.0.0.1"

from benchmarks.device_list_data import (  # noqa: E402 (after the path is set)
    BENCH_ORG,
    DEVICE_COLUMNS,
    EMPLOYEE_COLUMNS,
    FILTER_QUERY,
    GROUP_NAMES,
    OTHER_ORG,
    OWNER_USERNAME,
    TOKEN_NAME,
    device_rows,
    employee_rows,
)
from benchmarks.device_list_sql import query_report  # noqa: E402

# --- the database -----------------------------------------------------------------------------


def _connect(database_url: str, dbname: str | None = None):
    import psycopg

    parts = urlsplit(database_url)
    kwargs = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "dbname": dbname or parts.path.lstrip("/"),
        "autocommit": True,
        "connect_timeout": 10,
    }
    if parts.password:
        kwargs["password"] = parts.password
    return psycopg.connect(**kwargs)


def _seeded_sizes(database_url: str) -> dict[str, tuple[int, int]] | None:
    """Devices and employees per bench organization, or None if the database is not seeded."""
    import psycopg

    try:
        with _connect(database_url) as conn:
            rows = conn.execute(
                "SELECT o.slug, (SELECT count(*) FROM devices_device d WHERE d.organization_id = o.id),"
                " (SELECT count(*) FROM cockpit_employee e WHERE e.organization_id = o.id)"
                " FROM cockpit_organization o WHERE o.slug IN (%s, %s)",
                (BENCH_ORG, OTHER_ORG),
            ).fetchall()
    except psycopg.Error:
        return None
    return {slug: (devices, employees) for slug, devices, employees in rows}


def prepare_database(database_url: str, *, devices: int, employees: int, reseed: bool) -> bool:
    """Create the database unless it is already seeded with these sizes. True if it must be seeded."""
    from benchmarks.common import recreate_database

    dbname = urlsplit(database_url).path.lstrip("/")
    expected = {BENCH_ORG: (devices, employees), OTHER_ORG: (devices // 10, max(employees // 10, 10))}
    if not reseed and _seeded_sizes(database_url) == expected:
        print(f"Reusing database {dbname}: already seeded with {devices:,} devices.")
        return False
    print(f"Creating database {dbname} (drops it if it exists)...")
    recreate_database(database_url)
    return True


def _model_defaults(model, columns) -> tuple[tuple[str, ...], tuple]:
    """The columns ``columns`` leaves out, with the model field's default (Django sets defaults, the
    database does not), so fields the apps add later do not break the seed."""
    from django.db import models

    extra_columns, values = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.column in columns:
            continue
        value = model_field.get_default()
        if isinstance(model_field, models.JSONField):
            value = json.dumps(value)
        extra_columns.append(model_field.column)
        values.append(value)
    return tuple(extra_columns), tuple(values)


def _copy(cursor, table: str, columns, rows, model=None) -> int:
    """``COPY table (columns) FROM STDIN`` through the raw psycopg cursor; returns the row count.

    With ``model``, the model's other columns get their field defaults."""
    extra_columns, extra_values = _model_defaults(model, columns) if model is not None else ((), ())
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(tuple(columns) + extra_columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row) + extra_values)
            n += 1
    return n


def seed_organization(*, slug: str, name: str, devices: int, employees: int, rng: random.Random, owner=None):
    from django.db import connection, transaction

    from core.actors import Actor
    from core.models import Employee, Group, Membership
    from core.services import membership_add, organization_create
    from devices.models import Device

    actor = Actor.system("benchmark")
    now = datetime.now(UTC)
    with transaction.atomic():
        organization = organization_create(slug=slug, name=name, actor=actor)
        if owner is not None:
            membership_add(organization=organization, user=owner, role=Membership.Role.OWNER, actor=actor)
        Group.objects.bulk_create(Group(organization=organization, name=group) for group in GROUP_NAMES)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            _copy(
                raw,
                "cockpit_employee",
                EMPLOYEE_COLUMNS,
                employee_rows(organization.pk, employees, rng, now),
                model=Employee,
            )
            raw.execute(
                "SELECT id FROM cockpit_employee WHERE organization_id = %s AND status = 'active' ORDER BY id",
                (organization.pk,),
            )
            employee_ids = [row[0] for row in raw.fetchall()]
            _copy(
                raw,
                "devices_device",
                DEVICE_COLUMNS,
                device_rows(organization.pk, devices, employee_ids, rng, now),
                model=Device,
            )
            # Four devices in five are in one group, one in four in a second one (never the same group).
            raw.execute(
                """
                WITH g AS (SELECT array_agg(id ORDER BY id) AS ids
                             FROM cockpit_group WHERE organization_id = %(org)s)
                INSERT INTO devices_device_groups (device_id, group_id)
                SELECT d.id, g.ids[1 + d.id %% array_length(g.ids, 1)]
                  FROM devices_device d, g WHERE d.organization_id = %(org)s AND d.id %% 5 <> 0
                UNION ALL
                SELECT d.id, g.ids[1 + (d.id + 3) %% array_length(g.ids, 1)]
                  FROM devices_device d, g WHERE d.organization_id = %(org)s AND d.id %% 4 = 0
                """,
                {"org": organization.pk},
            )
    return organization


def seed(*, devices: int, employees: int):
    from django.contrib.auth import get_user_model

    rng = random.Random(20241121)
    owner = get_user_model().objects.create_user(username=OWNER_USERNAME, email=OWNER_USERNAME)
    started = time.perf_counter()
    seed_organization(slug=BENCH_ORG, name="Bench Corp", devices=devices, employees=employees, rng=rng, owner=owner)
    seed_organization(
        slug=OTHER_ORG, name="Other Corp", devices=devices // 10, employees=max(employees // 10, 10), rng=rng
    )
    print(
        f"Seeded {devices:,} + {devices // 10:,} devices and {employees:,} employees "
        f"in {time.perf_counter() - started:.1f} s (COPY)."
    )


def vacuum_analyze():
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("devices_device", "devices_device_groups", "cockpit_employee", "cockpit_group"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s.")


def credentials() -> tuple[str, str]:
    """A fresh owner password and a fresh write token for this run (earlier bench tokens are deleted)."""
    import secrets

    from django.contrib.auth import get_user_model

    from core.actors import Actor
    from core.models import ApiToken, Organization
    from core.services import api_token_create

    organization = Organization.objects.get(slug=BENCH_ORG)
    owner = get_user_model().objects.get(username=OWNER_USERNAME)
    password = secrets.token_urlsafe(18)
    owner.set_password(password)
    owner.save(update_fields=["password"])
    ApiToken.objects.filter(organization=organization, name=TOKEN_NAME).delete()
    _token, key = api_token_create(
        organization=organization,
        name=TOKEN_NAME,
        scope=ApiToken.Scope.WRITE,
        actor=Actor.system("benchmark"),
    )
    return password, key


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, *, workers: int, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "cockpit.wsgi:application",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            "60",
            "--log-level",
            "warning",
            "--chdir",
            str(PROJECT_DIR),
        ]
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, session, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if session.get(self.base_url + "/bench/trivial", timeout=2).status_code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # the master stops its workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group started for this gunicorn only
                self.process.wait(timeout=5)
        self._log.close()


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str  # its name on the RESULT line
    name: str
    path: str
    session: object
    expect: str  # text every good response contains
    timings: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0

    def request(self, base_url: str) -> float:
        started = time.perf_counter()
        response = self.session.get(base_url + self.path, timeout=30, allow_redirects=False)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or self.expect not in response.text:
            raise RuntimeError(f"{self.name}: GET {self.path} answered {response.status_code}: {response.text[:300]!r}")
        return elapsed


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cockpit_login(session, base_url: str, password: str):
    page = session.get(f"{base_url}/login/", timeout=30)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if page.status_code != 200 or not match:
        raise RuntimeError(f"Login page: {page.status_code}, no CSRF token")
    response = session.post(
        f"{base_url}/login/",
        data={"username": OWNER_USERNAME, "password": password, "csrfmiddlewaretoken": match.group(1)},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"Login failed: {response.status_code} {response.text[:300]!r}")


def run_http(*, base_url: str, scenarios: list[Scenario], warmup: int, requests_per: int):
    for scenario in scenarios:
        for _ in range(warmup):
            scenario.request(base_url)
    # Round-robin: request i of every page runs under the same conditions as request i of the others.
    for _ in range(requests_per):
        for scenario in scenarios:
            try:
                elapsed = scenario.request(base_url)
            except RuntimeError:
                scenario.errors += 1
                if scenario.errors > max(5, requests_per // 20):
                    raise
                continue
            scenario.timings.append(elapsed)
            scenario.wall += elapsed


def report(scenarios: list[Scenario]):
    baseline = statistics.median(scenarios[0].timings)
    print()
    print(f"{'page':<34} {'median ms':>10} {'p95 ms':>9} {'req/s':>8} {'ratio':>7}  target < {TARGET_RATIO:g}")
    print("-" * 84)
    failures = []
    for scenario in scenarios:
        median = statistics.median(scenario.timings)
        p95 = percentile(scenario.timings, 95)
        rate = len(scenario.timings) / scenario.wall if scenario.wall else 0.0
        ratio = median / baseline
        if scenario is scenarios[0]:
            verdict = "baseline"
        else:
            verdict = "PASS" if ratio < TARGET_RATIO else "FAIL"
            if verdict == "FAIL":
                failures.append(scenario.name)
        errors = f"  ({scenario.errors} errors)" if scenario.errors else ""
        print(
            f"{scenario.name:<34} {median * 1000:>10.1f} {p95 * 1000:>9.1f} {rate:>8.1f} {ratio:>7.2f}  "
            f"{verdict}{errors}"
        )
    print("-" * 84)
    print("req/s: one client, sequential requests (1 / mean latency), not throughput under load.")
    if failures:
        print(f"FAIL — median ratio >= {TARGET_RATIO:g} for: {', '.join(failures)}")
    else:
        print(f"PASS — every list's median is below {TARGET_RATIO:g}x the trivial view's.")
    return {scenario.key: statistics.median(scenario.timings) / baseline for scenario in scenarios[1:]}


def result_line(ratios: dict[str, float]) -> str:
    """The last line of the output: each page's ratio to the trivial view, and the verdict."""
    verdict = "PASS" if all(ratio < TARGET_RATIO for ratio in ratios.values()) else "FAIL"
    figures = " ".join(f"{key}={ratio:.2f}" for key, ratio in ratios.items())
    return f"RESULT bench_device_list {figures} target<{TARGET_RATIO:g} {verdict}"


# --- main -------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices of the measured organization")
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="timed requests per page (at least 200 for the issue's figures)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--reseed", action="store_true", help="drop and seed the database even if it fits")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each list query")
    parser.add_argument("--skip-sql", action="store_true", help="skip the in-process SQL-per-request report")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.employees < 10 or args.requests < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--devices >= 1, --employees >= 10, --requests >= 1, --warmup >= 0, --workers >= 1")
    if args.requests > 100_000:
        parser.error("--requests is capped at 100,000")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        print(f"The benchmark needs PostgreSQL; DATABASE_URL is {database_url!r}.", file=sys.stderr)
        return 1
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # SIGTERM (e.g. from make or CI) unwinds like Ctrl-C, so gunicorn is stopped in ``finally``.
    signal.signal(signal.SIGTERM, _interrupt)

    parts = urlsplit(database_url)
    shown_url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{parts.hostname}:{parts.port or 5432}"))
    print(
        f"Device list benchmark: {args.devices:,} devices, {args.requests} timed requests per page "
        f"(+{args.warmup} warm-up), gunicorn {args.workers} workers, database {shown_url}"
    )
    if args.requests < 200:
        print("Note: fewer than 200 requests per page; the issue's figures need --requests >= 200.")

    must_seed = prepare_database(database_url, devices=args.devices, employees=args.employees, reseed=args.reseed)

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    if must_seed:
        seed(devices=args.devices, employees=args.employees)
    vacuum_analyze()
    password, key = credentials()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"PostgreSQL {cursor.fetchone()[0]}, Django {django.get_version()}")
    connection.close()

    import requests

    log_dir = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    env = dict(os.environ)
    server = Gunicorn(workers=args.workers, env=env, log_path=log_dir / "gunicorn.log")
    try:
        anonymous, api, cockpit = requests.Session(), requests.Session(), requests.Session()
        server.wait_ready(anonymous)
        api.headers["Authorization"] = f"Bearer {key}"
        cockpit_login(cockpit, server.base_url, password)
        count = f'"count":{args.devices}'
        scenarios = [
            Scenario("trivial", "trivial view (baseline)", "/bench/trivial", anonymous, "ok"),
            Scenario("api_first", "API list, first page", "/api/v1/devices/", api, count),
            Scenario("api_filtered", "API list, filtered", f"/api/v1/devices/?{FILTER_QUERY}", api, '"results":['),
            Scenario("inventory_first", "cockpit inventory, first page", f"/o/{BENCH_ORG}/devices/", cockpit,
                     'id="device-table"'),
            Scenario(
                "inventory_filtered",
                "cockpit inventory, filtered",
                f"/o/{BENCH_ORG}/devices/?{FILTER_QUERY}",
                cockpit,
                'id="device-table"',
            ),
        ]
        print(f"gunicorn up on {server.base_url}; measuring...")
        started = time.perf_counter()
        run_http(base_url=server.base_url, scenarios=scenarios, warmup=args.warmup, requests_per=args.requests)
        print(f"Measured in {time.perf_counter() - started:.1f} s; filter: ?{FILTER_QUERY}")
    except (RuntimeError, OSError, requests.RequestException) as exc:
        print(
            f"\nBenchmark failed: {exc}\n--- gunicorn log ({server.log_path}) ---\n{server.log_tail()}",
            file=sys.stderr,
        )
        return 1
    finally:
        server.stop()

    ratios = report(scenarios)
    if not args.skip_sql:
        query_report(key=key, explain=args.explain)
    print(result_line(ratios))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
