"""Each lever of the unchanged sync measured alone, in CPU-seconds of this process (robust on a busy machine).

Run after ``bench_sync.py`` (it keeps its database and prints its work directory)::

    .venv/bin/python benchmarks/sync_levers.py --work-dir /tmp/cockpit-sync-bench-XXXX --hosts 20000 \\
        --database-url postgres://postgres@127.0.0.1:5432/cockpit_sync_bench

It reads the captured pages of that run and the devices its syncs left, and times, old way against new way:

1. the stored digests: one ``SELECT`` of 500 ids a page (the old ``_known``) / one streamed ``DigestMap.load``;
2. decoding: ``json.loads`` + ``FleetHost.from_json`` / msgspec into ``WireHost`` (+ ``host_from_wire``, what a
   changed host costs on top);
3. deciding "unchanged": ``host_facts`` for every host / the key (``sync_keys``) for every host.

The database's own CPU is not counted (the client side of each query is). Last line:
``RESULT sync_levers hosts=N digests_old_s=… digests_new_s=… decode_old_s=… decode_new_s=… facts_s=… keys_s=…``.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))


def cpu(function, repeat: int = 3) -> tuple[float, object]:
    """The least CPU-seconds of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        result = function()
        best = min(best, time.process_time() - started)
    return best, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True, help="bench_sync.py's work directory (it prints it)")
    parser.add_argument("--hosts", type=int, required=True, help="the fleet size of that run")
    parser.add_argument("--database-url", required=True, help="that run's database")
    args = parser.parse_args(argv)
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="benchmarks.settings")
    import django

    django.setup()
    from benchmarks.bench_sync import ORG_SLUG
    from benchmarks.static_fleet import load_capture
    from core.models import Organization
    from devices.models import Device
    from mdm_sync.fleet import FleetHost
    from mdm_sync.fleet_wire import decode_host_page, host_from_wire
    from mdm_sync.health import HealthPolicy
    from mdm_sync.sync_keys import HostKeys
    from mdm_sync.sync_listing import RULES, SEEN_RESOLUTION, DigestMap, host_facts

    work = Path(args.work_dir)
    bodies, targets = load_capture(work / f"capture-{args.hosts}-0")
    pages = [bodies[target][1] for target in targets]
    now = datetime.fromisoformat(json.loads((work / f"setup-{args.hosts}.json").read_text())["now"])
    devices = Device.objects.for_org(Organization.objects.get(slug=ORG_SLUG))
    hosts = [FleetHost.from_json(item) for body in pages for item in json.loads(body)["hosts"]]
    page_ids = [[host.id for host in hosts[i:i + 500]] for i in range(0, len(hosts), 500)]

    def per_page_selects():
        return [dict((h, (d, e is not None)) for h, d, e in devices.filter(
            fleet_host_id__isnull=False, fleet_host_id__in=ids).values_list(
            "fleet_host_id", "fleet_facts_hash", "mdm_enrolled_at")) for ids in page_ids]

    figures = {}
    figures["digests_old_s"], _ = cpu(per_page_selects)
    figures["digests_new_s"], stored = cpu(lambda: DigestMap.load(devices))
    figures["decode_old_s"], _ = cpu(lambda: [[FleetHost.from_json(i) for i in json.loads(b)["hosts"]] for b in pages])
    figures["decode_new_s"], wires = cpu(lambda: [decode_host_page(body) for body in pages])
    figures["convert_s"], _ = cpu(lambda: [[host_from_wire(w) for w in page] for page in wires])
    policy = HealthPolicy.for_organization(devices.first().organization)
    enrolled = {host.id: (stored.get(host.id) or ("", False))[1] for host in hosts}
    figures["facts_s"], _ = cpu(lambda: [host_facts(h, policy=policy, now=now, previously_enrolled=enrolled[h.id])
                                         for h in hosts])
    keys = HostKeys(policy=policy, now=now, seen_resolution=SEEN_RESOLUTION, rules=RULES)
    figures["keys_s"], _ = cpu(lambda: [keys.key(w, enrolled=enrolled[w.id]) for page in wires for w in page])

    print(f"{args.hosts:,} hosts, {len(pages)} pages; CPU-seconds of this process, best of 3:")
    for old, new, label in (("digests_old_s", "digests_new_s", "stored digests: per-page SELECTs / one map"),
                            ("decode_old_s", "decode_new_s", "decoding: json+from_json / msgspec structs"),
                            ("facts_s", "keys_s", "unchanged?: host_facts / key")):
        print(f"  {label:<46} {figures[old]:6.2f} / {figures[new]:6.2f}  ({figures[old] / figures[new]:.1f}x)")
    print(f"  {'converting a changed host (host_from_wire)':<46} {figures['convert_s']:6.2f} for all hosts")
    print(f"RESULT sync_levers hosts={args.hosts} " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
