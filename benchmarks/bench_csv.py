"""Bulk CSV assignment with a 10,000-row file in PostgreSQL: preview and commit, next to parsing the CSV alone.

Run from the project root::

    .venv/bin/python benchmarks/bench_csv.py                 # 10,000 rows
    .venv/bin/python benchmarks/bench_csv.py --rows 2000     # quick run

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

4. Prints seconds, rows/s, the ratio to the floor and the SQL queries of each, and the queries by kind.
   Devices already here go through the device moves (``device_assign``: row lock, history, audit) one by one,
   so the commit's queries grow with ``--here`` only; new serials are written in bulk.

Exit status 0 when the measurements ran (this is a report), 1 when the benchmark itself failed.
"""

import argparse
import csv
import io
import os
import random
import statistics
import sys
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


def measured(function):
    """(seconds, queries by kind, result) of one call."""
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
    return seconds, counter.kinds, result


def seed(rows: int, here: int, rng: random.Random):
    """The organization, its people and devices, and the CSV bytes."""
    from core.actors import Actor
    from core.models import Employee, Group
    from core.services import organization_create
    from devices.models import Device

    actor = Actor.system("benchmark")
    org = organization_create(slug=ORG_SLUG, name="CSV Bench Corp", actor=actor)
    Group.objects.bulk_create([Group(organization=org, name=name) for name in GROUPS])
    employees = Employee.objects.bulk_create([
        Employee(organization=org, email=f"user{i}@csv.bench.example", username=f"user{i}", domain_name="CORP")
        for i in range(EMPLOYEES)
    ])
    devices = Device.objects.bulk_create([
        Device(organization=org, serial_number=f"HERE{i:07d}", name=f"here-{i}", platform="macos")
        for i in range(here)
    ])
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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"CSV: {args.rows:,} rows, {len(data) / 1024 / 1024:.1f} MB; {args.here:,} of the serials are devices "
          f"already here ({args.here // 10:,} of them assigned to someone else); {EMPLOYEES:,} employees")

    figures: dict[str, list[tuple[float, Counter]]] = {}

    def record(name, seconds, kinds):
        figures.setdefault(name, []).append((seconds, kinds))

    for _ in range(args.repeat):
        seconds, kinds, _rows = measured(lambda: list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""))))
        record("floor (csv.reader alone)", seconds, kinds)
        seconds, kinds, _parsed = measured(lambda: parse(data, kind="assign", max_rows=1_000_000))
        record("parse (no database)", seconds, kinds)

        # Preview and commit, then roll everything back so the next repetition starts from the same state.
        class Rollback(Exception):
            pass

        try:
            with transaction.atomic():
                seconds, kinds, preview = measured(lambda: services.csv_import_start(
                    organization=org, actor=actor, data=data, filename="bench.csv"))
                record("preview", seconds, kinds)
                counts = preview.counts
                seconds, kinds, result = measured(partial(services.csv_import_commit, csv_import=preview, actor=actor))
                record("commit", seconds, kinds)
                seconds, kinds, again = measured(lambda: services.csv_import_start(
                    organization=org, actor=actor, data=data, filename="bench.csv"))
                record("re-upload preview", seconds, kinds)
                unchanged = again.counts.get("unchanged", 0)
                seconds, kinds, _ = measured(partial(services.csv_import_commit, csv_import=again, actor=actor))
                record("re-upload commit", seconds, kinds)
                raise Rollback
        except Rollback:
            pass
        CsvImport.objects.filter(organization=org).delete()

    print(f"Preview: {dict(sorted(counts.items()))}")
    print(f"Commit: {result}")
    print(f"Re-upload: {unchanged:,} of {args.rows:,} rows unchanged\n")
    floor = statistics.median(s for s, _ in figures["floor (csv.reader alone)"])
    print(f"{'':28} {'seconds':>8} {'rows/s':>10} {'x floor':>8} {'queries':>8}")
    for name, runs in figures.items():
        seconds = statistics.median(s for s, _ in runs)
        queries = runs[-1][1]
        print(f"{name:28} {seconds:8.2f} {args.rows / seconds:10,.0f} {seconds / floor:8.1f} "
              f"{sum(queries.values()):8,}")
    print("\nQueries by kind (last run):")
    for name, runs in figures.items():
        if runs[-1][1]:
            print(f"  {name:26} " + ", ".join(f"{kind} {n:,}" for kind, n in runs[-1][1].most_common()))
    print(f"\nMedian of {args.repeat} run(s). The machine may be shared: compare ratios, not seconds.")
    print(result_line(args.rows, figures))
    return 0


def result_line(rows: int, figures: dict) -> str:
    """The machine-readable last line: medians in seconds, and each ratio to the floor (``csv.reader`` alone)."""
    def median(name: str) -> float:
        return statistics.median(s for s, _ in figures[name])

    floor = median("floor (csv.reader alone)")
    return (f"RESULT bench_csv rows={rows} floor_s={floor:.3f} parse_s={median('parse (no database)'):.3f} "
            f"preview_s={median('preview'):.3f} commit_s={median('commit'):.3f} "
            f"reupload_preview_s={median('re-upload preview'):.3f} reupload_commit_s={median('re-upload commit'):.3f} "
            f"preview_x={median('preview') / floor:.1f} commit_x={median('commit') / floor:.1f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the CSV file")
    parser.add_argument("--here", type=int, default=None,
                        help="serials that are devices already in the inventory (default: a tenth of --rows)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the median is reported")
    parser.add_argument("--database-url", default=None,
                        help=f"default: DATABASE_URL's server (or {DEFAULT_SERVER_URL}), database {DEFAULT_DBNAME}")
    args = parser.parse_args(argv)
    if args.here is None:
        args.here = args.rows // 10
    if not 1 <= args.rows <= 1_000_000 or not 0 <= args.here <= args.rows or args.repeat < 1:
        parser.error("--rows between 1 and 1,000,000, --here between 0 and --rows, --repeat at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
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
