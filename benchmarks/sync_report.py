"""The report of ``bench_sync.py``: its targets, the line printed after each phase, and the tables printed at the end.

``report`` reads the phases' results as ``bench_sync.py`` collects them, ``{hosts: {phase: result}}``, each result the
dict a phase process wrote (seconds, peak RSS, queries, HTTP requests, stage times, the sync run's counts).
"""

TARGET_SECOND = 1.5  # unchanged sync (steady state), x the static floor
TARGET_FIRST = 3.0  # first sync, x floor
TARGET_THIRD = 2.0  # 10 % changed, x floor
TARGET_RSS_MB = 150
TARGET_FLAT = 1.2  # peak RSS at 2N / peak RSS at N
TARGET_UNCHANGED_CPU_S = 5.0  # CPU-seconds of the sync process, unchanged sync at 100,000 hosts

TARGETS = {"first": TARGET_FIRST, "second": TARGET_SECOND, "third": TARGET_THIRD}
FLOORS = ("floor", "floor_raw")


def _labels(vary_percent: int) -> dict[str, str]:
    return {"floor": "floor (client, static)", "floor_raw": "floor (requests+json)", "first": "first sync (new)",
            "second": "unchanged (steady)", "third": f"third ({vary_percent} % changed)"}


def progress_line(name: str, result: dict) -> str:
    run = result.get("run")
    counts = "" if not run else (
        f": {run['created']:,} created, {run['updated']:,} updated, {run['unchanged']:,} unchanged, "
        f"{run['not_seen']:,} not seen")
    return f"  {name:<7} {result['seconds']:7.1f} s, peak RSS {result['rss_peak_mb']:.0f} MB{counts}"


def report(all_results: dict[int, dict[str, dict]], *, vary_percent: int) -> list[str]:
    """Prints the tables and the verdicts; returns the targets missed, one line each."""
    labels = _labels(vary_percent)
    failures = []
    header = (f"{'phase':<21} {'hosts':>8} {'s':>7} {'hosts/s':>8} {'x floor':>8} {'peak MB':>8} "
              f"{'queries':>8} {'q/page':>7}  {'target':<20} verdict")
    print()
    print(header)
    print("-" * len(header))
    for hosts, results in all_results.items():
        floor = results["floor"]["seconds"]
        for name, result in results.items():
            ratio = result["seconds"] / floor
            queries = result["queries"] if name not in FLOORS else None
            per_page = queries / result["pages"] if queries is not None and result["pages"] else None
            verdict, target = "", ""
            if name not in FLOORS:
                problems = []
                if name in TARGETS:
                    target = f"<= {TARGETS[name]:g}x, "
                    if ratio > TARGETS[name]:
                        problems.append("time")
                target += f"< {TARGET_RSS_MB} MB"
                if result["rss_peak_mb"] >= TARGET_RSS_MB:
                    problems.append("memory")
                verdict = "PASS" if not problems else f"FAIL ({', '.join(problems)})"
                if problems:
                    failures.append(f"{name} at {hosts:,}: {', '.join(problems)}")
            print(
                f"{labels[name]:<21} {hosts:>8,} {result['seconds']:>7.1f} "
                f"{result['hosts'] / result['seconds']:>8,.0f} "
                f"{'' if name == 'floor' else f'{ratio:.2f}':>8} {result['rss_peak_mb']:>8.0f} "
                f"{'' if queries is None else queries:>8} {'' if per_page is None else f'{per_page:.1f}':>7}  "
                f"{target:<20} {verdict or 'baseline'}"
            )
    print("-" * len(header))
    print("peak MB: the phase's own process (VmHWM), Django and the client included; "
          "x floor: seconds / the static floor's seconds (the project's client) at the same size.")
    for hosts, results in all_results.items():
        first, floor = results["first"], results["floor"]["seconds"]
        if first.get("writes_s") is not None:
            physical = floor + first["writes_s"]
            rows = ", ".join(f"{n:,} {label}" for label, n in first["writes_rows"].items())
            print(f"first sync's physical floor at {hosts:,}: the static floor and its rows alone COPY'd into empty "
                  f"tables of the same indexes ({rows}): {floor:.2f} + {first['writes_s']:.2f} = {physical:.2f} s, "
                  f"{physical / floor:.2f}x the static floor (the first sync's target: {TARGET_FIRST:g}x); the first "
                  f"sync is {first['seconds'] / physical:.2f}x its physical floor.")
        for name in FLOORS:
            runs = results[name].get("floor_runs")
            if runs:
                print(f"{labels[name]} at {hosts:,}: measured before and after the syncs, {runs[0]:.2f} s and "
                      f"{runs[1]:.2f} s; the faster is used.")
        second = results["second"]
        if second.get("drain_updates"):
            drained = second.get("drain_syncs")
            print(f"unchanged syncs at {hosts:,}: updated {second['drain_updates']} hosts in turn; backlog "
                  + (f"drained after {drained} sync(s)" if drained is not None else "NOT drained") + "; "
                  f"steady state: {second['cpu_s']:.2f} CPU-s in the sync process "
                  f"(target <= {TARGET_UNCHANGED_CPU_S:g} at 100,000 hosts)")
            if second["cpu_s"] > TARGET_UNCHANGED_CPU_S * hosts / 100_000:
                failures.append(f"unchanged CPU at {hosts:,}: {second['cpu_s']:.1f} s")

    print("\nWhere the time went (seconds; HTTP includes the server's answer and the page's decoding):")
    print(f"{'phase':<21} {'hosts':>8} {'total':>7} {'HTTP':>7} {'sim CPU':>8} {'list':>7} {'apply':>7} {'follow':>7} "
          f"{'SQL':>7} {'our CPU':>8} {'base MB':>8} {'MB list':>8}  HTTP requests")
    for hosts, results in all_results.items():
        for name, result in results.items():
            stage, sql = result.get("stage_s", {}), sum(result.get("query_s", {}).values())
            rss_list = result.get("rss_after", {}).get("list")
            sim_cpu = result.get("sim_cpu_s")
            requests = ", ".join(f"{n} {kind} ({result['http_kind_s'][kind] * 1000 / n:.0f} ms each)"
                                 for kind, n in sorted(result["http"].items()))
            print(
                f"{labels[name]:<21} {hosts:>8,} {result['seconds']:>7.1f} {result['http_s']:>7.1f} "
                f"{'?' if sim_cpu is None else f'{sim_cpu:.1f}':>8} "
                f"{_fmt(stage.get('list')):>7} {_fmt(stage.get('apply')):>7} {_fmt(stage.get('follow_ups')):>7} "
                f"{_fmt(sql if name not in FLOORS else None):>7} "
                f"{result['cpu_s']:>8.1f} {result['rss_base_mb']:>8.0f} {_fmt(rss_list, '.0f'):>8}  {requests}"
            )
    print("list/apply: sync phases 1 and 2; follow: other apps' after-sync steps (--with-follow-ups);\n"
          "SQL: time in the database calls; our CPU: this process's CPU; "
          "base MB: RSS before the measured call; MB list: peak RSS at the end of phase 1.")

    main_hosts = next(iter(all_results))
    print(f"\nSQL by kind at {main_hosts:,} hosts (stage: list = phase 1, apply = phase 2, other = run record, audit):")
    for name, result in all_results[main_hosts].items():
        if name in FLOORS:
            continue
        kinds = ", ".join(f"{stage}/{kind} {n}" for stage, kind, n in result["queries_by"])
        print(f"  {name:<7} {kinds}")

    print("\nPeak RSS when the fleet doubles (target: the larger fleet's peak at most "
          f"{TARGET_FLAT:g}x the smaller's):")
    sizes = sorted(all_results)
    if len(sizes) == 2:
        small, large = sizes
        for name in ("floor", "first", "second"):
            a, b = all_results[small][name], all_results[large][name]
            ratio = b["rss_peak_mb"] / a["rss_peak_mb"]
            growth_a, growth_b = a["rss_peak_mb"] - a["rss_base_mb"], b["rss_peak_mb"] - b["rss_base_mb"]
            verdict = "PASS" if ratio <= TARGET_FLAT else "FAIL"
            if name == "floor":
                verdict = "(reference)"
            elif verdict == "FAIL":
                failures.append(f"{name}: memory not flat ({ratio:.2f}x from {small:,} to {large:,} hosts)")
            print(f"  {labels[name]:<21} {small:>8,}: {a['rss_peak_mb']:5.0f} MB (+{growth_a:.0f})   "
                  f"{large:>8,}: {b['rss_peak_mb']:5.0f} MB (+{growth_b:.0f})   ratio {ratio:.2f}  {verdict}")
        print("  (+N: growth above the process's RSS before the measured call)")
    else:
        print("  (skipped: --scale-hosts 0)")

    for hosts, results in all_results.items():
        third = results.get("third", {}).get("run")
        if third:
            print(f"\nThird sync at {hosts:,}: {third['updated']:,} updated, {third['created']:,} created, "
                  f"{third['unchanged']:,} unchanged (every {100 // vary_percent}th host's os_version changed; "
                  "a changed older duplicate of a re-enrolled device counts as unchanged).")
    print()
    print("FAIL — " + "; ".join(failures) if failures else "PASS — every target met.")
    print(result_line(all_results))
    return failures


def result_line(all_results: dict[int, dict[str, dict]]) -> str:
    """The machine-readable last line, for the measured (largest first) fleet: ratios against the static floor."""
    hosts = next(iter(all_results))
    results = all_results[hosts]
    floor = results["floor"]["seconds"]
    ratio = {name: results[name]["seconds"] / floor if name in results else float("nan")
             for name in ("first", "second", "third")}
    syncs = [result for name, result in results.items() if name not in FLOORS]
    second = results["second"]
    drained = second.get("drain_syncs")
    writes = results["first"].get("writes_s", float("nan"))
    return (f"RESULT bench_sync hosts={hosts} floor_s={floor:.2f} raw_floor_s={results['floor_raw']['seconds']:.2f} "
            f"first_x={ratio['first']:.2f} unchanged_x={ratio['second']:.2f} changed_x={ratio['third']:.2f} "
            f"unchanged_cpu_s={second['cpu_s']:.2f} peak_rss_mb={max(r['rss_peak_mb'] for r in syncs):.0f} "
            f"drain_syncs={'none' if drained is None else drained} first_writes_s={writes:.2f} "
            f"first_physical_x={results['first']['seconds'] / (floor + writes):.2f}")


def _fmt(value, spec: str = ".1f") -> str:
    return "" if value is None else format(value, spec)

