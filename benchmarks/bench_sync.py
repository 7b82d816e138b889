"""Fleet sync throughput, CPU and memory with 100,000 Fleet hosts in PostgreSQL, next to an honest floor.

Run from the project root (``make bench`` runs the first form; more in ``benchmarks/README.md``)::

    .venv/bin/python benchmarks/bench_sync.py                          # 100,000 hosts, and 50,000 for memory
    .venv/bin/python benchmarks/bench_sync.py --hosts 20000            # quick run (and 10,000)

For ``--hosts`` and then ``--scale-hosts`` (half of it by default), in a dedicated database
(``cockpit_sync_bench`` on ``DATABASE_URL``'s server, or ``--database-url``), dropped and migrated first:

1. The Fleet simulator (``manage.py fleet_simulator``, seed 1, a fixed clock) is started, every response a
   sync needs is captured once (``benchmarks/static_fleet.py``: pages, count, APNs, Get host), and the simulator
   stopped. The captured bytes are served from memory on loopback for every measured phase.
2. Each measured phase runs in a fresh process of this script (``--phase ...``): its peak RSS (``VmHWM``)
   and CPU-seconds (``getrusage``) are its own:
   * ``floor``: the project's client alone against the static pages: download and decode every page into typed
     structs (``FleetClient.iter_listed_pages``), the least any sync does;
   * ``floor_raw``: plain ``requests`` and ``json.loads`` of the same pages (shown, not the ratios' base);
   * ``first``: ``sync_organization`` into the empty organization (every host new);
   * ``writes``: the first sync's rows alone (its devices and audit entries, read back untimed), ``COPY``'d into empty
     tables of the same columns and indexes, and committed: what PostgreSQL needs to store them, whatever writes
     them (no foreign keys checked: a floor). The static floor plus this is the first sync's physical floor;
   * ``second``: the same fleet again, repeated until a run updates nothing (hosts whose Get-host details did
     not fit a run's budget get them in the next runs): the last run is the steady state, the count of runs
     before it is reported;
   * ``third`` (``--hosts`` only): the simulator's fleet with ``--vary 10`` (``os_version`` of every 10th host
     changed), captured and served the same way.

   Each sync runs with ``now`` set to the simulator's fixed clock, so health thresholds cannot tip between
   phases; the other apps' after-sync steps (``mdm_sync.hooks``) are not run unless ``--with-follow-ups``;
   ``VACUUM ANALYZE`` runs after each sync, untimed (PERF_NOTES). Both floors run before and after the syncs;
   the faster of each is kept (the stricter ratio).
3. Prints per phase seconds, ratio to the static floor, peak RSS, queries, where the time went, and the
   targets' verdicts (``benchmarks/sync_report.py``), and last a line ``RESULT bench_sync hosts=… floor_s=…``.
Exit status 0 when the measurements ran, target met or not (a report); 1 when the benchmark itself failed.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.bench_device_list import HOST, SETTINGS_MODULE, free_port  # noqa: E402
from benchmarks.common import DEFAULT_SERVER_URL, benchmark_database_url, recreate_database  # noqa: E402
from benchmarks.static_fleet import StaticFleet  # noqa: E402
from benchmarks.sync_probe import Probe, cpu_s, maxrss_mb  # noqa: E402
from benchmarks.sync_report import progress_line, report  # noqa: E402

DEFAULT_DBNAME = "cockpit_sync_bench"
ORG_SLUG = "sync-bench"
FLEET_TOKEN = "bench"
SEED = 1
VARY_PERCENT = 10
PER_PAGE = 500  # mdm_sync.fleet.DEFAULT_PER_PAGE, what the sync uses

PHASES = ("setup", "capture", "floor", "floor_raw", "first", "writes", "second", "third")
MAX_DRAIN_SYNCS = 30  # unchanged syncs run until one updates nothing (the Get-host backlog drained), at most this


def _setup_django():
    import django

    django.setup()


def phase_setup(args) -> dict:
    _setup_django()
    from django.core.management import call_command

    from core.actors import Actor
    from core.services import organization_create
    from mdm_sync.services import fleet_connection_save

    call_command("migrate", verbosity=0, interactive=False)
    actor = Actor.system("benchmark")
    organization = organization_create(slug=ORG_SLUG, name="Sync Bench Corp", actor=actor)
    fleet_connection_save(organization=organization, url=args.fleet_url, token=FLEET_TOKEN, actor=actor, test=False)
    return {"organization": organization.pk, "now": args.now}  # the run's clock (benchmarks/sync_levers.py)


def phase_floor(args) -> dict:
    _setup_django()  # the same baseline as the syncs' processes
    from mdm_sync.fleet import FleetClient

    probe = Probe()
    probe.wrap_client()
    rss_base, cpu = maxrss_mb(), cpu_s()
    started = time.perf_counter()
    pages = hosts = 0
    with FleetClient(args.fleet_url, FLEET_TOKEN) as client:  # download and decode, what every sync does at least
        for page in client.iter_listed_pages(per_page=args.per_page):
            pages += 1
            hosts += len(page)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "cpu_s": cpu_s() - cpu, "pages": pages, "hosts": hosts, "rss_base_mb": rss_base,
            "rss_peak_mb": maxrss_mb(), **probe.as_dict()}


def phase_capture(args) -> dict:
    """Every response the syncs need, through the simulator once (``benchmarks.static_fleet``)."""
    _setup_django()
    from benchmarks.static_fleet import capture

    started = time.perf_counter()
    summary = capture(args.fleet_url, FLEET_TOKEN, Path(args.capture_dir), now=datetime.fromisoformat(args.now),
                      per_page=args.per_page)
    return {**summary, "seconds": time.perf_counter() - started}


def phase_floor_raw(args) -> dict:
    """The plainest floor: ``requests`` and ``json.loads`` of the same pages, nothing else."""
    _setup_django()
    import requests

    from benchmarks.static_fleet import load_capture

    targets = load_capture(Path(args.capture_dir))[1]
    rss_base, cpu = maxrss_mb(), cpu_s()
    started = time.perf_counter()
    hosts = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {FLEET_TOKEN}"
        for target in targets:
            hosts += len(json.loads(session.get(f"{args.fleet_url}{target}", timeout=60).content)["hosts"])
    return {"seconds": time.perf_counter() - started, "cpu_s": cpu_s() - cpu, "pages": len(targets), "hosts": hosts,
            "rss_base_mb": rss_base, "rss_peak_mb": maxrss_mb(), "queries": 0, "queries_by": [], "query_s": {},
            "http": {"list page": len(targets)}, "http_kind_s": {"list page": 0.0}, "http_s": 0.0, "stage_s": {},
            "rss_after": {}}


def phase_writes(args) -> dict:
    """The first sync's rows, ``COPY``'d into empty copies of their tables (columns, defaults, indexes; no foreign
    keys) and committed, timed; the rows are read back from the sync's tables first, untimed."""
    _setup_django()
    from django.db import connection, transaction

    from core.models import AuditEvent, Organization
    from devices.models import Device

    organization = Organization.objects.get(slug=ORG_SLUG)
    quote, seconds, rows = connection.ops.quote_name, 0.0, {}
    for model in (Device, AuditEvent):
        table, copy_table = quote(model._meta.db_table), quote(f"bench_writes_{model._meta.db_table}")
        with connection.cursor() as cursor:
            data = bytearray()
            with cursor.cursor.copy(f"COPY (SELECT * FROM {table} WHERE organization_id = %s) TO STDOUT",
                                    [organization.pk]) as copy:
                for chunk in copy:
                    data += chunk
            rows[model._meta.label] = data.count(b"\n")
            cursor.execute(f"DROP TABLE IF EXISTS {copy_table}")
            cursor.execute(f"CREATE TABLE {copy_table} (LIKE {table} INCLUDING ALL)")
            cursor.execute("CHECKPOINT")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY {copy_table} FROM STDIN") as copy:
            copy.write(bytes(data))
        seconds += time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {copy_table}")
    return {"seconds": seconds, "rows": rows}


def phase_sync(args) -> dict:
    _setup_django()
    from django.db import connection

    from core.actors import Actor
    from core.models import Organization
    from mdm_sync import sync
    from mdm_sync.models import SyncRun

    organization = Organization.objects.get(slug=ORG_SLUG)
    now = datetime.fromisoformat(args.now)
    probe = Probe()
    probe.wrap_client()
    probe.wrap_copy()
    probe.wrap_stage(sync, "list_hosts", "list")  # the two phases, as mdm_sync.sync calls them
    probe.wrap_stage(sync, "apply_listing", "apply")
    if args.with_follow_ups:
        probe.wrap_stage(sync.after_sync, "run", "follow_ups")
    else:  # other apps' after-sync steps are theirs to measure: this is the sync alone
        from core.hooks import Steps

        sync.after_sync = Steps("after_sync", isolated=True)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    rss_base, cpu = maxrss_mb(), cpu_s()
    started = time.perf_counter()
    with connection.execute_wrapper(probe.execute):
        if profiler:
            profiler.enable()
        run = sync.sync_organization(organization=organization, trigger=SyncRun.Trigger.COMMAND,
                                     actor=Actor.system("bench"), now=now)
        if profiler:
            profiler.disable()
    elapsed = time.perf_counter() - started
    result = {"seconds": elapsed, "cpu_s": cpu_s() - cpu, "pages": run.pages, "hosts": run.hosts_listed,
              "rss_base_mb": rss_base, "rss_peak_mb": maxrss_mb(), **probe.as_dict(),
              "run": {"status": run.status, "error": run.error, "created": run.created, "updated": run.updated,
                      "unchanged": run.unchanged, "not_seen": run.not_seen, "reenrolled": run.reenrolled,
                      "fleet_count": run.fleet_count}}
    if profiler:
        path = Path(args.result).with_suffix(".prof")
        profiler.dump_stats(path)
        result["profile"] = str(path)
    if run.status == SyncRun.Status.SUCCEEDED:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE devices_device")
    return result


def run_phase(args) -> int:
    handler = {"setup": phase_setup, "capture": phase_capture, "floor": phase_floor,
               "floor_raw": phase_floor_raw, "writes": phase_writes}.get(args.phase, phase_sync)
    result = handler(args)
    Path(args.result).write_text(json.dumps(result))
    return 0


# --- the simulator ------------------------------------------------------------------------------------


class Simulator:
    """``manage.py fleet_simulator`` in its own process (and session), so its CPU is not ours."""

    def __init__(self, *, hosts: int, port: int, now: str, vary: float, env: dict, log_path: Path):
        self.base_url = f"http://{HOST}:{port}"
        self.hosts = hosts
        self.log_path = log_path
        command = [sys.executable, str(PROJECT_DIR / "manage.py"), "fleet_simulator", "--host", HOST,
                   "--port", str(port), "--hosts", str(hosts), "--seed", str(SEED), "--token", FLEET_TOKEN,
                   "--now", now, "--vary", str(vary)]
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        # ``make bench &`` starts with SIGINT ignored; stop() needs it delivered
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def wait_ready(self, timeout: float = 60.0):
        import requests

        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {FLEET_TOKEN}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the simulator exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = requests.get(f"{self.base_url}/api/v1/fleet/hosts/count", headers=headers, timeout=2)
                if response.status_code == 200 and response.json().get("count") == self.hosts:
                    return
            except (OSError, ValueError, requests.RequestException):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the simulator did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the simulator so far (Linux ``/proc``), or None."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # the command stops cleanly on Ctrl-C
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


# --- the driver ---------------------------------------------------------------------------------------


class Driver:
    """Runs the phases of one fleet size: the simulator only to capture, the syncs against the static pages."""

    def __init__(self, args, *, env: dict, work_dir: Path):
        self.args = args
        self.env = env
        self.work_dir = work_dir
        self.now = datetime.now(UTC).replace(microsecond=0).isoformat()
        self.simulator: Simulator | None = None
        self.static: StaticFleet | None = None

    def start_simulator(self, *, hosts: int, port: int, vary: float = 0.0):
        self.stop_simulator()
        self.simulator = Simulator(hosts=hosts, port=port, now=self.now, vary=vary, env=self.env,
                                   log_path=self.work_dir / "simulator.log")
        self.simulator.wait_ready()

    def stop_simulator(self):
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None

    def stop(self):
        self.stop_simulator()
        if self.static is not None:
            self.static.stop()
            self.static = None

    def capture(self, *, hosts: int, vary: float = 0.0) -> Path:
        """The simulator's answers for this fleet, captured once, then served by the static server."""
        out_dir = self.work_dir / f"capture-{hosts}-{vary:g}"
        self.start_simulator(hosts=hosts, port=free_port(), vary=vary)
        summary = self.phase("capture", hosts=hosts, fleet_url=self.simulator.base_url, capture_dir=out_dir)
        self.stop_simulator()
        if self.static is None:
            self.static = StaticFleet(free_port(), HOST)
        self.static.load(out_dir)
        print(f"Captured {summary['pages']} pages ({summary['page_mb']:.0f} MB) and {summary['details']:,} host "
              f"details ({summary['detail_mb']:.0f} MB) in {summary['seconds']:.1f} s; served from memory on "
              f"{self.static.base_url}")
        return out_dir

    def phase(self, name: str, *, hosts: int, fleet_url: str, capture_dir: Path | None = None,
              label: str | None = None) -> dict:
        result_path = self.work_dir / f"{label or name}-{hosts}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--hosts", str(hosts),
                   "--fleet-url", fleet_url, "--now", self.now, "--per-page", str(self.args.per_page),
                   "--result", str(result_path)]
        if capture_dir is not None:
            command += ["--capture-dir", str(capture_dir)]
        if self.args.profile:
            command.append("--profile")
        if self.args.with_follow_ups:
            command.append("--with-follow-ups")
        misses = self.static.misses if self.static else 0
        completed = subprocess.run(command, cwd=PROJECT_DIR, env=self.env, timeout=self.args.phase_timeout)
        if completed.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"phase {name} ({hosts:,} hosts) exited with status {completed.returncode}")
        result = json.loads(result_path.read_text())
        result["sim_cpu_s"] = None  # static pages: no simulator CPU
        result["misses"] = (self.static.misses - misses) if self.static else 0
        run = result.get("run")
        if run and run["status"] != "succeeded":
            raise RuntimeError(f"sync {name} ({hosts:,} hosts) {run['status']}: {run['error']}")
        return result

    def measure(self, hosts: int, *, third: bool) -> dict[str, dict]:
        print(f"\n== {hosts:,} hosts ==")
        recreate_database(self.env["DATABASE_URL"])
        capture_dir = self.capture(hosts=hosts)
        url = self.static.base_url
        self.phase("setup", hosts=hosts, fleet_url=url)
        results = {}
        for name in ("floor", "floor_raw", "first"):
            results[name] = self.phase(name, hosts=hosts, fleet_url=url, capture_dir=capture_dir)
            print(progress_line(name, results[name]))
        writes = self.phase("writes", hosts=hosts, fleet_url=url)
        results["first"]["writes_s"], results["first"]["writes_rows"] = writes["seconds"], writes["rows"]
        print(f"  writes  {writes['seconds']:7.1f} s: the first sync's rows alone, COPY'd and committed "
              f"({', '.join(f'{n:,} {label}' for label, n in writes['rows'].items())})")
        # Unchanged syncs until one updates nothing: hosts whose Get-host details did not fit a run's budget
        # (mdm_sync.sync_listing.MAX_DETAIL_FETCHES) get them in the next runs. The last one is the steady state.
        drain = []
        for attempt in range(1, MAX_DRAIN_SYNCS + 1):
            result = self.phase("second", hosts=hosts, fleet_url=url, label=f"second{attempt}")
            print(progress_line("second", result) + f" (unchanged sync {attempt})")
            if result["run"]["created"]:
                raise RuntimeError(f"unchanged sync {attempt} created {result['run']['created']} devices")
            drain.append(result["run"]["updated"])
            if not result["run"]["updated"]:
                break
        result["drain_syncs"] = len(drain) - 1 if not drain[-1] else None
        result["drain_updates"] = drain
        results["second"] = result
        # The machine is shared: the floors are measured again after the syncs and the faster kept (the stricter
        # ratio), so that a busy moment during one floor run does not flatter the syncs.
        for name in ("floor", "floor_raw"):
            again = self.phase(name, hosts=hosts, fleet_url=url, capture_dir=capture_dir, label=f"{name}-again")
            print(progress_line(name, again) + " (again)")
            runs = [results[name]["seconds"], again["seconds"]]
            if again["seconds"] < results[name]["seconds"]:
                results[name] = again
            results[name]["floor_runs"] = runs
        if third:
            self.capture(hosts=hosts, vary=VARY_PERCENT)
            results["third"] = self.phase("third", hosts=hosts, fleet_url=url)
            print(progress_line("third", results["third"]))
        for name, result in results.items():
            if result["hosts"] != hosts:
                raise RuntimeError(f"{name}: {result['hosts']:,} hosts listed, not {hosts:,}")
            if result.get("misses"):
                print(f"note: {name} asked for {result['misses']} responses that were not captured (404)")
        return results



# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100_000, help="simulated hosts of the measured fleet")
    parser.add_argument("--scale-hosts", type=int, default=None,
                        help="second fleet size for the memory comparison (default: half of --hosts; 0: skip)")
    parser.add_argument("--per-page", type=int, default=PER_PAGE, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None,
                        help=f"default: DATABASE_URL's server (or {DEFAULT_SERVER_URL}), database {DEFAULT_DBNAME}")
    parser.add_argument("--profile", action="store_true", help="cProfile every sync; the .prof files are kept")
    parser.add_argument("--with-follow-ups", action="store_true",
                        help="also run the other apps' after-sync steps (mdm_sync.hooks) inside the measured "
                             "syncs, timed as their own stage; by default the sync is measured alone")
    parser.add_argument("--phase-timeout", type=float, default=1800, help=argparse.SUPPRESS)
    # Internal: one measured phase in its own process.
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--fleet-url", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--capture-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_hosts is None:
        args.scale_hosts = args.hosts // 2
    if not 1 <= args.hosts <= 1_000_000 or not 0 <= args.scale_hosts <= 1_000_000 or args.per_page < 1:
        parser.error("--hosts between 1 and 1,000,000, --scale-hosts between 0 and 1,000,000")
    if args.scale_hosts == args.hosts:
        parser.error("--scale-hosts must differ from --hosts")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.phase:
        return run_phase(args)

    database_url = benchmark_database_url(DEFAULT_DBNAME, args.database_url)
    parts = urlsplit(database_url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        print(f"The benchmark needs PostgreSQL; the database URL is {database_url!r}.", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds like Ctrl-C: the simulator is stopped in ``finally``
    work_dir = Path(tempfile.mkdtemp(prefix="cockpit-sync-bench-"))
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
               COCKPIT_VAR_DIR=str(work_dir / "var"), PYTHONUNBUFFERED="1")
    env.setdefault("LOG_LEVEL", "WARNING")

    import hashlib

    import django

    sync_digest = hashlib.sha1(b"".join(  # the sync's code: sync.py and its sync_*.py parts
        path.read_bytes() for path in sorted((PROJECT_DIR / "mdm_sync").glob("sync*.py")))).hexdigest()[:12]
    shown_url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{parts.hostname}:{parts.port or 5432}"))
    sizes = [args.hosts] + ([args.scale_hosts] if args.scale_hosts else [])
    print(f"Fleet sync benchmark: {' and '.join(f'{n:,}' for n in sizes)} simulated hosts, {args.per_page} per "
          f"page, database {shown_url}, Django {django.get_version()}, mdm_sync/sync*.py sha1 {sync_digest}")
    print(f"Each phase runs in its own process; logs and results in {work_dir}")
    if args.profile:
        print("Note: --profile slows the syncs down; their ratios are not the figures to report.")
    print("After-sync steps of other apps (mdm_sync.hooks): " + (
        "run inside the measured syncs, timed as 'follow-ups'." if args.with_follow_ups else
        "not run (the sync alone is measured; --with-follow-ups includes them)."))

    driver = Driver(args, env=env, work_dir=work_dir)
    all_results: dict[int, dict[str, dict]] = {}
    started = time.perf_counter()
    try:
        for hosts in sizes:
            all_results[hosts] = driver.measure(hosts, third=hosts == args.hosts)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        tail = driver.simulator.log_tail() if driver.simulator else ""
        print(f"\nBenchmark failed: {exc}\n{tail}", file=sys.stderr)
        return 1
    finally:
        driver.stop()
    print(f"\nMeasured in {time.perf_counter() - started:.0f} s.")

    if args.profile:
        for hosts, results in all_results.items():
            for name, result in results.items():
                if result.get("profile"):
                    print(f"profile {name} at {hosts:,}: {result['profile']}")
    report(all_results, vary_percent=VARY_PERCENT)  # its last line: RESULT bench_sync …
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
