"""The device-list benchmark's SQL report: the statements each list runs per request, measured in-process."""

import re
import statistics
import time
import warnings

from benchmarks.device_list_data import BENCH_ORG, FILTER_QUERY, OWNER_USERNAME


def query_report(*, key: str, explain: bool):
    """The SQL each list runs, through Django's test client in this process (same code, same database)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic here

    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    cockpit = Client()
    cockpit.force_login(get_user_model().objects.get(username=OWNER_USERNAME))
    cases = [
        ("api, page_size=10", api, "/api/v1/devices/?page_size=10"),
        ("api, page_size=50 (default)", api, "/api/v1/devices/"),
        ("api, page_size=500 (max)", api, "/api/v1/devices/?page_size=500"),
        ("api filtered, page_size=50", api, f"/api/v1/devices/?{FILTER_QUERY}"),
        ("cockpit, 50 rows (fixed)", cockpit, f"/o/{BENCH_ORG}/devices/"),
        ("cockpit filtered, 50 rows", cockpit, f"/o/{BENCH_ORG}/devices/?{FILTER_QUERY}"),
    ]
    print()
    print("SQL per request (in-process test client; Django's DB timings, 1 ms resolution):")
    for label, client, path in cases:
        totals = []
        for _ in range(6):  # the first one warms up; the view time is the median of the other five
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                totals.append(time.perf_counter() - started)
        total = statistics.median(totals[1:])
        queries = captured.captured_queries
        db = sum(float(q["time"]) for q in queries)
        print(
            f"{label}: HTTP {response.status_code}, {len(queries)} queries, DB {db * 1000:.0f} ms, "
            f"view median {total * 1000:.1f} ms"
        )
        for query in queries:
            print(f"    {float(query['time']) * 1000:4.0f} ms  {_short_sql(query['sql'])}")
            if explain and ("devices_device" in query["sql"] or _explainable(query["sql"]) != query["sql"]):
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + _explainable(query["sql"]))
                    for (line,) in cursor.fetchall():
                        print("            " + line)


DECLARE_CURSOR = re.compile(r"^\s*DECLARE\s+\S+\s+.*?CURSOR\s+(?:WITH(?:OUT)?\s+HOLD\s+)?FOR\s+(.*)$", re.S)


def _explainable(sql: str) -> str:
    """The SELECT inside a server-side cursor's ``DECLARE ... FOR`` (how ``.iterator()`` reads)."""
    match = DECLARE_CURSOR.match(sql)
    return match.group(1) if match else sql


def _top_level_from(sql: str) -> int:
    """Where the statement's own `` FROM `` starts (not one of a subquery in its column list), or -1."""
    depth = 0
    for index, char in enumerate(sql):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and sql.startswith(" FROM ", index):
            return index
    return -1


def _short_sql(sql: str) -> str:
    """``SELECT … FROM "table" WHERE …`` without the column list, on one line."""
    prefix = "DECLARE CURSOR FOR " if DECLARE_CURSOR.match(sql) else ""
    sql = _explainable(sql)
    start = _top_level_from(sql)
    if sql.startswith("SELECT ") and not sql.startswith("SELECT COUNT(") and start > 0:
        sql = "SELECT …" + sql[start:]
    sql = re.sub(r"IN \(([^)]{40})[^)]*\)", r"IN (\1…)", sql)
    return (prefix + " ".join(sql.split()))[:150]
