"""Bulk CSV assignment with a 10,000-row file in PostgreSQL: preview and commit, next to parsing the CSV alone;
then a 100,000-row file as a job, in a process of its own.

Run from the project root::

    .venv/bin/python benchmarks/bench_csv.py                                  # 10,000 rows, then 100,000 as a job
    .venv/bin/python benchmarks/bench_csv.py --rows 2000 --job-rows 20000     # quick run
    .venv/bin/python benchmarks/bench_csv.py --job-rows 0                     # no job run

What it does:

1. Drops and recreates a dedicated database, ``cockpit_csv_bench`` (on ``DATABASE_URL``'s server, or
   ``--database-url``), migrates it and seeds an organization ``csv-bench`` with 5,000 employees, 8 groups and
   ``--here`` devices already in the inventory (unassigned, or assigned to someone else for a tenth of them).
2. Writes a ``--rows`` CSV (DESIGN §6 columns, shuffled order, two groups per row, 10 % unknown e-mails that
   create employees) whose first ``--here`` serials are those devices and the rest are not seen yet.
3. Measures, in this process, each several times (``--repeat``) with the median reported:

   * ``floor``: Python's ``csv.reader`` over the decoded bytes: reading the file and nothing else;
   * ``parse``: ``assignment.csv_import.parse`` (decoding, header, per-row validation, no database);
   * ``preview``: ``services.csv_import_start`` (parse, classify every row in bulk lookups, store the preview);
   * ``commit``: ``services.csv_import_commit`` (classify again, apply in one transaction), measured once on a
     fresh copy of the seeded state per repetition;
   * ``re-upload``: the same file previewed and committed again (idempotent: every row ``unchanged``).

4. Prints seconds, CPU-seconds (this process plus its PostgreSQL backend: on a shared machine they move less than
   seconds do), rows/s, the ratio to the floor and the SQL queries of each, and the queries by kind. Rows are
   written in bulk (``core.bulk``: ``COPY`` and set-based updates), the devices already here through the bulk
   device assignment (row locks, history, audit); the commit's statements do not grow with the rows.
5. Unless ``--job-rows 0``: seeds a second organization the same way (a tenth of the serials here) and writes a
   ``--job-rows`` file, then a fresh process of this script (``--phase job``) uploads it as the API does
   (``csv_import_submit``: parsed and stored, a job queued) and runs the job through its handler in-process
   (``core.jobs.job_execute``: analysis in chunks, then the commit in one transaction). It reports the upload, the
   job and their total in seconds and CPU-seconds, and the process's peak RSS (``VmHWM``) next to its RSS once
   Django is loaded.

Exit status 0 when the measurements ran (this is a report), 1 when the benchmark itself failed.
"""

import argparse
import csv
import gc
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.common import DEFAULT_SERVER_URL, benchmark_database_url, recreate_database  # noqa: E402

DEFAULT_DBNAME = "cockpit_csv_bench"
SETTINGS_MODULE = "benchmarks.settings"
ORG_SLUG = "csv-bench"
JOB_ORG_SLUG = "csv-bench-job"
EMPLOYEES = 5000
GROUPS = ["Engineering", "Sales", "Support", "Finance", "Marketing", "People", "IT", "Kiosks"]
COLUMNS = ["Email Address", "Serial Number", "Group Name", "User Name", "Owned By", "Domain Name"]


class QueryCounter:
    def __init__(self):
        self.kinds = Counter()

    def __call__(self, execute, sql, params, many, context):
        self.kinds[sql.split(None, 1)[0].upper() if sql else "?"] += 1
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def _proc_mb(key: str) -> float:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of this process, in MB (Linux)."""
    try:
        return int(Path("/proc/self/status").read_text().split(f"{key}:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


def _reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux: ``5`` to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _backend_cpu_s() -> float:
    """CPU-seconds of this connection's PostgreSQL backend so far, when the server runs on this machine (else 0)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now() -> float:
    """CPU-seconds of this process (every thread) and its database backend."""
    return time.process_time() + _backend_cpu_s()


def measured(function):
    """(seconds, CPU-seconds, queries by kind, result) of one call."""
    from django.db import connection

    counter = QueryCounter()
    cpu = cpu_now()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
    return seconds, cpu_now() - cpu, counter.kinds, result


def seed(rows: int, here: int, rng: random.Random, slug: str = ORG_SLUG):
    """The organization, its people and devices, and the CSV bytes."""
    from core.actors import Actor
    from core.models import Employee, Group
    from core.services import organization_create
    from devices.models import Device

    actor = Actor.system("benchmark")
    org = organization_create(slug=slug, name=f"CSV Bench Corp ({slug})", actor=actor)
    Group.objects.bulk_create([Group(organization=org, name=name) for name in GROUPS])
    employees = Employee.objects.bulk_create([
        Employee(organization=org, email=f"user{i}@csv.bench.example", username=f"user{i}", domain_name="CORP")
        for i in range(EMPLOYEES)
    ])
    devices = Device.objects.bulk_create([
        Device(organization=org, serial_number=f"HERE{i:07d}", name=f"here-{i}", platform="macos")
        for i in range(here)
    ], batch_size=2000)
    busy = devices[: here // 10]
    for device, owner in zip(busy, employees[-len(busy):], strict=False):  # assigned to someone else: conflicts
        device.availability_status, device.assignment_status, device.assignee = "in_use", "assigned", owner
    Device.objects.bulk_update(busy, ["availability_status", "assignment_status", "assignee"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for i in range(rows):
        serial = f"HERE{i:07d}" if i < here else f"NEW{i:08d}"
        known = rng.random() >= 0.1
        email = f"user{rng.randrange(EMPLOYEES - 500)}@csv.bench.example" if known else f"newhire{i}@csv.bench.example"
        groups = "/".join(rng.sample(GROUPS, 2))
        writer.writerow([email, serial, groups, email.split("@")[0], rng.choice(["Corporate", "Personal", ""]),
                         rng.choice(["CORP", ""])])
    return org, actor, buffer.getvalue().encode("utf-8")


def settle(connection) -> None:
    """Untimed, before a measurement, as the sync's benchmark does after each sync: ``VACUUM ANALYZE`` (the seed's
    statistics, and the pages the rolled-back 10,000-row runs left gone: analysed as they were, the pre-assignments
    read as an empty table of 40 pages, and PostgreSQL checked each new group row's foreign key through a whole
    index rather than the primary key: the 20,000-row job's commit took 7 s instead of 0.5 s), then ``CHECKPOINT``,
    so that the WAL the seed and the benchmarks before this one wrote (``make bench`` runs the sync's first) is
    flushed now rather than by a checkpoint PostgreSQL starts mid-measurement when the WAL reaches
    ``max_wal_size`` (one did, during the job, in a ``make bench``). A role that may not checkpoint (not a superuser
    nor ``pg_checkpoint``) only says so."""
    from django.db import DatabaseError, transaction

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        try:
            with transaction.atomic():
                cursor.execute("CHECKPOINT")
        except DatabaseError as exc:
            print(f"note: no CHECKPOINT before the measurement ({str(exc).strip()})")


def run(args) -> int:
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("The benchmark needs PostgreSQL.", file=sys.stderr)
        return 1
    from assignment import services
    from assignment.csv_import import parse
    from assignment.models import CsvImport

    call_command("migrate", verbosity=0, interactive=False)
    org, actor, data = seed(args.rows, args.here, random.Random(1))
    settle(connection)
    print(f"CSV: {args.rows:,} rows, {len(data) / 1024 / 1024:.1f} MB; {args.here:,} of the serials are devices "
          f"already here ({args.here // 10:,} of them assigned to someone else); {EMPLOYEES:,} employees")

    figures: dict[str, list[tuple[float, float, Counter]]] = {}

    def record(name, seconds, cpu, kinds):
        figures.setdefault(name, []).append((seconds, cpu, kinds))

    for _ in range(args.repeat):
        record("floor (csv.reader alone)", *measured(
            lambda: list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""))))[:3])
        record("parse (no database)", *measured(lambda: parse(data, kind="assign", max_rows=1_000_000))[:3])

        # Preview and commit, then roll everything back so the next repetition starts from the same state.
        class Rollback(Exception):
            pass

        try:
            with transaction.atomic():
                *measure, preview = measured(lambda: services.csv_import_start(
                    organization=org, actor=actor, data=data, filename="bench.csv"))
                record("preview", *measure)
                counts = preview.counts
                *measure, result = measured(partial(services.csv_import_commit, csv_import=preview, actor=actor))
                record("commit", *measure)
                *measure, again = measured(lambda: services.csv_import_start(
                    organization=org, actor=actor, data=data, filename="bench.csv"))
                record("re-upload preview", *measure)
                unchanged = again.counts.get("unchanged", 0)
                *measure, _ = measured(partial(services.csv_import_commit, csv_import=again, actor=actor))
                record("re-upload commit", *measure)
                raise Rollback
        except Rollback:
            pass
        CsvImport.objects.filter(organization=org).delete()

    print(f"Preview: {dict(sorted(counts.items()))}")
    print(f"Commit: {result}")
    print(f"Re-upload: {unchanged:,} of {args.rows:,} rows unchanged\n")
    floor = statistics.median(s for s, _, _ in figures["floor (csv.reader alone)"])
    print(f"{'':28} {'seconds':>8} {'cpu_s':>7} {'rows/s':>10} {'x floor':>8} {'queries':>8}")
    for name, runs in figures.items():
        seconds = statistics.median(s for s, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        queries = runs[-1][2]
        print(f"{name:28} {seconds:8.2f} {cpu:7.2f} {args.rows / seconds:10,.0f} {seconds / floor:8.1f} "
              f"{sum(queries.values()):8,}")
    print("\nQueries by kind (last run; a COPY runs outside Django's cursor and is not counted):")
    for name, runs in figures.items():
        if runs[-1][2]:
            print(f"  {name:26} " + ", ".join(f"{kind} {n:,}" for kind, n in runs[-1][2].most_common()))
    print(f"\nMedian of {args.repeat} run(s). The machine may be shared: compare ratios and CPU-seconds, not seconds.")
    peak_rss = _proc_mb("VmHWM")  # this process: the seed and every run above, before the job's own process
    print(f"Peak RSS of the {args.rows:,}-row runs (seed included): {peak_rss:.0f} MB")
    job = run_job(args) if args.job_rows else None
    print(result_line(args.rows, figures, job, peak_rss))
    return 0


def run_job(args) -> dict:
    """Seed the job's organization and file here, then upload and run the job in a fresh process of this script."""
    from django.db import connection

    _org, _actor, data = seed(args.job_rows, args.job_rows // 10, random.Random(2), slug=JOB_ORG_SLUG)
    settle(connection)
    with tempfile.NamedTemporaryFile(prefix="bench-csv-", suffix=".csv", delete=False) as handle:
        handle.write(data)
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--phase", "job", "--csv-file", handle.name], cwd=PROJECT_DIR,
            env=os.environ.copy(), capture_output=True, text=True, check=False)
    finally:
        os.unlink(handle.name)
    if completed.returncode != 0:
        raise RuntimeError(f"The job phase failed:\n{completed.stdout}\n{completed.stderr}")
    job = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"\nJob: {args.job_rows:,} rows ({len(data) / 1024 / 1024:.1f} MB), {args.job_rows // 10:,} devices here; "
          f"result {job['result']}")
    print(f"{'':28} {'seconds':>8} {'cpu_s':>7} {'rows/s':>10}")
    for name in ("upload", "job", "total"):
        seconds, cpu = job[f"{name}_s"], job[f"{name}_cpu_s"]
        print(f"{name:28} {seconds:8.2f} {cpu:7.2f} {args.job_rows / seconds:10,.0f}")
    print(f"peak RSS {job['peak_rss_mb']:.0f} MB (Django loaded: {job['base_rss_mb']:.0f} MB); the upload's "
          f"{job['upload_peak_rss_mb']:.0f} MB, the job's own "
          + (f"{job['job_peak_rss_mb']:.0f} MB" if job["job_peak_rss_mb"] is not None else "(not measurable here)")
          + f" (from {job['job_base_rss_mb']:.0f} MB when it started)")
    return job | {"rows": args.job_rows}


def job_phase(csv_file: str) -> int:
    """In its own process: the upload as the API takes it, then the job it queued, run here through its handler.
    Prints one JSON line."""
    import django

    django.setup()
    from assignment import services
    from assignment.models import CsvImport
    from core import jobs
    from core.actors import Actor
    from core.models import Organization

    organization = Organization.objects.get(slug=JOB_ORG_SLUG)
    actor = Actor.system("benchmark")
    data = Path(csv_file).read_bytes()
    queued: list[int] = []
    jobs.queue_job = queued.append  # the worker is this process: the job runs below, not on the broker
    base_rss = _proc_mb("VmRSS")
    cpu, started = cpu_now(), time.perf_counter()
    submission = services.csv_import_submit(organization=organization, actor=actor, data=data, filename="job.csv")
    upload_s, upload_cpu = time.perf_counter() - started, cpu_now() - cpu
    if submission.job is None or queued != [submission.job.pk]:
        raise RuntimeError("The upload did not queue a job: is the file above ASSIGNMENT_CSV_SYNC_MAX_ROWS?")
    record_pk, job_pk = submission.record.pk, submission.job.pk
    del submission  # the upload's parsed rows: a worker's process never holds them, it reads the stored import
    upload_peak = _proc_mb("VmHWM")
    gc.collect()
    job_base = _proc_mb("VmRSS")
    peak_reset = _reset_peak_rss()  # from here VmHWM is the job's own peak (a worker runs only the job)
    outcome = jobs.job_execute(job_id=job_pk)
    job_peak = _proc_mb("VmHWM")
    total_s, total_cpu = time.perf_counter() - started, cpu_now() - cpu
    job = jobs.Job.objects.get(pk=job_pk)
    record = CsvImport.objects.get(pk=record_pk)  # its status and result, after the measurement (not its rows)
    if job.status != jobs.Job.Status.SUCCEEDED or record.status != CsvImport.Status.COMMITTED:
        raise RuntimeError(f"The job did not commit the import: {outcome} {job.status} {job.error}")
    print(json.dumps({
        "upload_s": upload_s, "upload_cpu_s": upload_cpu, "job_s": total_s - upload_s,
        "job_cpu_s": total_cpu - upload_cpu, "total_s": total_s, "total_cpu_s": total_cpu,
        "peak_rss_mb": max(upload_peak, job_peak), "base_rss_mb": base_rss, "upload_peak_rss_mb": upload_peak,
        "job_base_rss_mb": job_base, "job_peak_rss_mb": job_peak if peak_reset else None, "result": record.result,
    }))
    return 0


def result_line(rows: int, figures: dict, job: dict | None, peak_rss: float) -> str:
    """The machine-readable last line: medians in seconds and CPU-seconds, each ratio to the floor (``csv.reader``
    alone), and the job run's figures."""
    def median(name: str, index: int = 0) -> float:
        return statistics.median(run[index] for run in figures[name])

    floor = median("floor (csv.reader alone)")
    line = (f"RESULT bench_csv rows={rows} floor_s={floor:.3f} parse_s={median('parse (no database)'):.3f} "
            f"preview_s={median('preview'):.3f} commit_s={median('commit'):.3f} "
            f"total_s={median('preview') + median('commit'):.3f} "
            f"preview_cpu_s={median('preview', 1):.3f} commit_cpu_s={median('commit', 1):.3f} "
            f"reupload_preview_s={median('re-upload preview'):.3f} reupload_commit_s={median('re-upload commit'):.3f} "
            f"preview_x={median('preview') / floor:.1f} commit_x={median('commit') / floor:.1f} "
            f"peak_rss_mb={peak_rss:.0f}")
    if job:
        line += (f" job_rows={job['rows']} job_s={job['total_s']:.3f} job_cpu_s={job['total_cpu_s']:.3f} "
                 f"job_peak_rss_mb={job['peak_rss_mb']:.0f}")
        if job["job_peak_rss_mb"] is not None:
            line += f" job_only_peak_rss_mb={job['job_peak_rss_mb']:.0f}"
    return line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the CSV file")
    parser.add_argument("--here", type=int, default=None,
                        help="serials that are devices already in the inventory (default: a tenth of --rows)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the median is reported")
    parser.add_argument("--job-rows", type=int, default=100_000,
                        help="rows of the file uploaded and run as a job in a fresh process (0: no job run)")
    parser.add_argument("--phase", choices=["job"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--csv-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None,
                        help=f"default: DATABASE_URL's server (or {DEFAULT_SERVER_URL}), database {DEFAULT_DBNAME}")
    args = parser.parse_args(argv)
    if args.here is None:
        args.here = args.rows // 10
    if not 1 <= args.rows <= 1_000_000 or not 0 <= args.here <= args.rows or args.repeat < 1:
        parser.error("--rows between 1 and 1,000,000, --here between 0 and --rows, --repeat at least 1")
    if args.job_rows and not 2_001 <= args.job_rows <= 100_000:
        parser.error("--job-rows between 2,001 (a job: above the synchronous limit) and 100,000 (the file limit), or 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.phase == "job":  # the child process: its parent set up the database and the environment
        return job_phase(args.csv_file)
    database_url = benchmark_database_url(DEFAULT_DBNAME, args.database_url)
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        print(f"The benchmark needs PostgreSQL; the database URL is {database_url!r}.", file=sys.stderr)
        return 1
    recreate_database(database_url)
    os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE)
    os.environ.setdefault("COCKPIT_VAR_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "cockpit-csv-bench"))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
