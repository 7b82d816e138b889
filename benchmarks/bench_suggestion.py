"""Assignment suggestion over 10,000 unassigned devices and 5,000 employees in PostgreSQL, next to its floor.

Run from the project root::

    .venv/bin/python benchmarks/bench_suggestion.py                         # 10,000 devices × 5,000 employees
    .venv/bin/python benchmarks/bench_suggestion.py --devices 2000 --employees 1000   # quick run

What it does:

1. Drops and recreates a dedicated database, ``cockpit_suggestion_bench`` (on ``DATABASE_URL``'s
   server, or ``--database-url``), migrates it and seeds two organizations with ``bulk_create``
   (untimed): ``big`` with ``--devices`` unassigned devices and ``--employees`` employees, and
   ``small`` with a quarter of each. Devices carry the MDM facts the sync stores: SSO, installer and
   browser-profile e-mails (some agreeing, some conflicting), names such as "Ada's MacBook Pro" and
   hostnames with user names, a previous owner in the device history, a few shared ones and some with
   no fact at all; 5 % of the employees are offboarded. Then ``VACUUM ANALYZE``.
2. Measures, for each organization, in this process, with SQL counted by a connection
   ``execute_wrapper``:

   * ``floor``: loading the facts alone (``suggestion_facts``: devices, directory, rejections);
   * ``score``: the pure scorer over those facts, in memory (no SQL);
   * ``first run``: ``suggestions_refresh`` in ``suggest`` mode on an empty table (stores every suggestion);
   * ``second run``: the same again (nothing changed: writes nothing);
   * ``auto preview``: ``auto_mode_preview`` (what switching to ``auto`` would assign now).

3. Prints seconds, devices/s, the ratio to the floor and the query count of each, then the reads of
   both organizations side by side: the same number of queries for 16 times fewer device × employee
   pairs proves there is no per-pair or per-device query (writes are batches of 1,000 rows).

The exit status is 0 when the measurements ran (this is a report), 1 when the benchmark itself failed.
"""

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.bench_device_list import SETTINGS_MODULE  # noqa: E402
from benchmarks.common import DEFAULT_SERVER_URL, recreate_database  # noqa: E402

DEFAULT_DBNAME = "cockpit_suggestion_bench"
FIRST_NAMES = ["Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Gina", "Hugo", "Ines", "Jules", "Karim", "Lea",
               "Marc", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sami", "Tara"]
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy", "Moreau", "Simon",
              "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel"]
PRODUCTS = ["MacBook Pro", "MacBook Air", "iPhone", "iPad"]


# --- the data -----------------------------------------------------------------------------------------


def _people(count: int, rng: random.Random):
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield {"email": f"{first.lower()}.{last.lower()}.{i}@bench.example", "full_name": f"{first} {last}",
               "username": f"{first[0].lower()}{last.lower()}{i}", "active": rng.random() >= 0.05}


def _facts(i: int, people: list[dict], rng: random.Random) -> dict:
    """One device's MDM facts, by kind of situation (one in ten of each)."""
    owner, other = rng.choice(people), rng.choice(people)
    emails, name, hostname = [], f"SN-{i:07d}", ""
    case = i % 10
    if case in (0, 1, 2):
        emails = [{"email": owner["email"], "source": "mdm_idp_accounts"}]
        if case == 0:
            emails.append({"email": owner["email"], "source": "custom"})
    elif case == 3:
        emails = [{"email": owner["email"], "source": "custom"}]
    elif case == 4:
        emails = [{"email": owner["email"], "source": "google_chrome_profiles"}]
    elif case == 5:  # conflicting: SSO of one, installer of another
        emails = [{"email": owner["email"], "source": "mdm_idp_accounts"},
                  {"email": other["email"], "source": "custom"}]
    elif case == 6:
        name = f"{owner['full_name'].split()[0]}'s {rng.choice(PRODUCTS)}"
    elif case == 7:
        hostname = f"{owner['username']}-mbp.local"
    elif case == 8:
        emails = [{"email": f"stranger{i}@elsewhere.example", "source": "custom"}]
    # case 9: a previous owner (in the history) and nothing else, or nothing at all
    return {"fleet_emails": emails, "name": name, "fleet_hostname": hostname, "previous": owner if case == 9 else None}


def seed_organization(*, slug: str, devices: int, employees: int, rng: random.Random):
    from django.db import transaction

    from core.actors import Actor
    from core.models import Employee, Organization
    from core.services import organization_create
    from devices.models import AssignmentStatus, AvailabilityStatus, Device, DeviceHistory, Usage

    with transaction.atomic():
        organization = organization_create(slug=slug, name=slug.title(), actor=Actor.system("benchmark"))
        # Suggestions are off by default: the benchmark measures the "suggest" mode (stored, none assigned).
        Organization.objects.filter(pk=organization.pk).update(
            assignment_suggestion_mode=Organization.SuggestionMode.SUGGEST)
        people = list(_people(employees, rng))
        Employee.objects.bulk_create(
            [Employee(organization=organization, email=p["email"], full_name=p["full_name"], username=p["username"],
                      status="active" if p["active"] else "offboarded") for p in people],
            batch_size=2000,
        )
        ids = dict(Employee.objects.for_org(organization).values_list("email", "id"))
        facts = [_facts(i, people, rng) for i in range(devices)]
        Device.objects.bulk_create(
            [Device(organization=organization, serial_number=f"{slug[:3].upper()}{i:08d}", name=f["name"],
                    fleet_hostname=f["fleet_hostname"], fleet_emails=f["fleet_emails"], platform="macos",
                    availability_status=AvailabilityStatus.IN_USE, assignment_status=AssignmentStatus.TO_ASSIGN,
                    usage=Usage.SHARED if i % 20 == 19 else Usage.INDIVIDUAL)
             for i, f in enumerate(facts)],
            batch_size=2000,
        )
        device_ids = list(Device.objects.for_org(organization).order_by("id").values_list("id", flat=True))
        DeviceHistory.objects.bulk_create(
            [DeviceHistory(organization=organization, device_id=device_id, action="unassigned", source="manual",
                           actor_label="benchmark", assignee_before_id=ids[f["previous"]["email"]])
             for device_id, f in zip(device_ids, facts, strict=True) if f["previous"]],
            batch_size=2000,
        )
    return Organization.objects.get(pk=organization.pk)


# --- measuring ----------------------------------------------------------------------------------------


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class Figure:
    label: str
    seconds: float
    queries: int
    devices: int


def measure(label: str, devices: int, fn) -> tuple[Figure, object]:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
    return Figure(label, seconds, counter.count, devices), result


def run_organization(organization, *, devices: int) -> list[Figure]:
    from assignment.suggestion.models import Suggestion
    from assignment.suggestion.scoring import score_devices
    from assignment.suggestion.selectors import auto_mode_preview, suggestion_facts
    from assignment.suggestion.services import suggestions_refresh
    from core.actors import Actor

    actor = Actor.system("benchmark")
    Suggestion.objects.for_org(organization).delete()
    figures = []
    floor, facts = measure("floor: load the facts", devices, lambda: suggestion_facts(organization=organization))
    figures.append(floor)
    score, scores = measure("score in memory", devices,
                            lambda: score_devices(facts.devices, facts.directory, facts.rejected))
    figures.append(score)
    first, counts = measure("first run (stores all)", devices,
                            lambda: suggestions_refresh(organization=organization, actor=actor))
    figures.append(first)
    second, again = measure("second run (unchanged)", devices,
                            lambda: suggestions_refresh(organization=organization, actor=actor))
    figures.append(second)
    preview, rows = measure("auto preview (selector)", devices,
                            lambda: auto_mode_preview(organization=organization, threshold=0.9))
    figures.append(preview)
    print(f"  {len(facts.devices):,} devices to score, {len(facts.directory.people):,} employees: "
          f"{len(scores):,} suggestions ({counts['created']:,} stored; second run created {again['created']}, "
          f"superseded {again['superseded']}); auto at 0.90 would assign {len(rows):,}")
    return figures


def report(title: str, figures: list[Figure]) -> None:
    floor = figures[0].seconds
    print(f"\n{title}")
    print(f"  {'phase':<28}{'seconds':>9}{'devices/s':>12}{'x floor':>9}{'queries':>9}")
    for f in figures:
        rate = f.devices / f.seconds if f.seconds else float("inf")
        print(f"  {f.label:<28}{f.seconds:>9.3f}{rate:>12,.0f}{f.seconds / floor:>9.2f}{f.queries:>9}")


# --- database -----------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000, help="unassigned devices of the big organization")
    parser.add_argument("--employees", type=int, default=5_000, help="employees of the big organization")
    parser.add_argument("--database-url", default=None,
                        help=f"PostgreSQL server (default: DATABASE_URL's server or {DEFAULT_SERVER_URL})")
    parser.add_argument("--dbname", default=DEFAULT_DBNAME, help="database to drop, create and use")
    args = parser.parse_args(argv)
    if args.devices < 40 or args.employees < 40:
        parser.error("--devices and --employees must be at least 40 (the small organization has a quarter)")
    if args.dbname in {"postgres", "template0", "template1", "cockpit", "test_cockpit"}:
        parser.error(f"refusing to drop database {args.dbname!r}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    server = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL
    parts = urlsplit(server)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        print(f"The benchmark needs PostgreSQL; got {server!r}.", file=sys.stderr)
        return 1
    server = urlunsplit(parts._replace(path=""))
    print(f"Suggestion benchmark: {args.devices:,} devices × {args.employees:,} employees "
          f"(and a quarter of each), database {args.dbname} on {parts.hostname}:{parts.port or 5432}")
    os.environ["DATABASE_URL"] = recreate_database(urlunsplit(parts._replace(path=f"/{args.dbname}")))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    import logging

    logging.getLogger("assignment").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(20261121)
    started = time.perf_counter()
    big = seed_organization(slug="big", devices=args.devices, employees=args.employees, rng=rng)
    small = seed_organization(slug="small", devices=args.devices // 4, employees=args.employees // 4, rng=rng)
    with connection.cursor() as cursor:
        for table in ("devices_device", "cockpit_employee", "devices_devicehistory", "assignment_suggestion"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"Seeded in {time.perf_counter() - started:.1f} s (untimed); PostgreSQL {version}, "
          f"Django {django.get_version()}")

    print(f"\nbig: {args.devices:,} devices × {args.employees:,} employees")
    big_figures = run_organization(big, devices=args.devices)
    print(f"small: {args.devices // 4:,} devices × {args.employees // 4:,} employees")
    small_figures = run_organization(small, devices=args.devices // 4)
    report(f"big ({args.devices:,} × {args.employees:,})", big_figures)
    report(f"small ({args.devices // 4:,} × {args.employees // 4:,})", small_figures)

    print("\nQueries, big vs small (16x fewer device × employee pairs):")
    for b, s in zip(big_figures, small_figures, strict=True):
        same = "same" if b.queries == s.queries else f"{b.queries - s.queries:+d} (write batches of 1,000 rows)"
        print(f"  {b.label:<28}{b.queries:>6} vs {s.queries:<6} {same}")
    reads_equal = big_figures[0].queries == small_figures[0].queries and \
        big_figures[3].queries == small_figures[3].queries and big_figures[4].queries == small_figures[4].queries
    print("Reads do not grow with devices × employees." if reads_equal
          else "WARNING: the reads grew with the organization's size.")
    figures = {f.label: f for f in big_figures}
    floor = big_figures[0].seconds
    print(f"RESULT bench_suggestion devices={args.devices} employees={args.employees} floor_s={floor:.3f} "
          + " ".join(f"{key}_s={figures[label].seconds:.3f} {key}_x={figures[label].seconds / floor:.2f}"
                     for key, label in (("score", "score in memory"), ("first", "first run (stores all)"),
                                        ("unchanged", "second run (unchanged)"),
                                        ("preview", "auto preview (selector)")))
          + f" reads_flat={'yes' if reads_equal else 'no'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
