"""Each lever of the unchanged sync measured alone, in CPU-seconds of this process (robust on a busy machine).

Run after ``bench_sync.py`` (it keeps its database and prints its work directory)::

    .venv/bin/python benchmarks/sync_levers.py --work-dir /tmp/cockpit-sync-bench-XXXX --hosts 20000 \\
        --database-url postgres://postgres@127.0.0.1:5432/cockpit_sync_bench

It reads the captured pages of that run and the devices its syncs left, and times, old way against new way:

1. the stored digests: one ``SELECT`` of 500 ids a page (the old ``_known``) / one streamed ``DigestMap.load``;
2. decoding: ``json.loads`` + ``FleetHost.from_json`` / msgspec into ``WireHost`` (+ ``host_from_wire``, what a
   changed host costs on top);
3. deciding "unchanged": ``host_facts`` for every host / the key (``sync_keys``) for every host; and the least the
   listing does for a host besides its key (``lookups_s``: the host counted as seen, found in the map, its flag and
   stored key read), the part of an unchanged sync that no faster key removes;
4. what a changed (or new) host costs in phase 1: ``host_from_wire`` (a frozen ``FleetHost``) then its facts /
   ``ListedHost`` (only what the facts read, straight from the struct) then the same facts;
5. what a new device costs in phase 2 before the database: a ``Device`` and an ``AuditEvent`` instance, and the
   rows ``COPY`` takes from them / a ``NewDevice`` and the same rows as plain tuples.

The database's own CPU is not counted (the client side of each query is). Last line:
``RESULT sync_levers hosts=N digests_old_s=… digests_new_s=… decode_old_s=… decode_new_s=… convert_s=… facts_s=…
keys_s=… lookups_s=… changed_old_s=… changed_new_s=… rows_old_s=… rows_new_s=…``.
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
    from mdm_sync.fleet_wire import ListedHost, decode_host_page, host_from_wire
    from mdm_sync.health import HealthPolicy
    from mdm_sync.sync_keys import HostKeys
    from mdm_sync.sync_listing import RULES, SEEN_RESOLUTION, DigestMap, HostIds, host_facts

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

    def lookups():  # sync_listing.list_hosts' loop for an unchanged host, without the key
        seen, find = HostIds(), stored.find
        for page in wires:
            for item in page:
                if seen.add(item.id) and (i := find(item.id)) >= 0:
                    stored.enrolled(i), stored.key(i)

    figures["lookups_s"], _ = cpu(lookups)

    wire_hosts = [w for page in wires for w in page]
    figures["changed_old_s"], _ = cpu(lambda: [host_facts(host_from_wire(w), policy=policy, now=now,
                                                          previously_enrolled=False) for w in wire_hosts])
    figures["changed_new_s"], facts = cpu(lambda: [host_facts(ListedHost(w), policy=policy, now=now,
                                                              previously_enrolled=False) for w in wire_hosts])
    figures["rows_old_s"], figures["rows_new_s"] = _rows(devices.first().organization, facts, now, cpu)

    print(f"{args.hosts:,} hosts, {len(pages)} pages; CPU-seconds of this process, best of 3:")
    for old, new, label in (("digests_old_s", "digests_new_s", "stored digests: per-page SELECTs / one map"),
                            ("decode_old_s", "decode_new_s", "decoding: json+from_json / msgspec structs"),
                            ("facts_s", "keys_s", "unchanged?: host_facts / key"),
                            ("changed_old_s", "changed_new_s", "changed host: FleetHost+facts / ListedHost+facts"),
                            ("rows_old_s", "rows_new_s", "new device: model instances / plain rows")):
        print(f"  {label:<46} {figures[old]:6.2f} / {figures[new]:6.2f}  ({figures[old] / figures[new]:.1f}x)")
    print(f"  {'converting a changed host (host_from_wire)':<46} {figures['convert_s']:6.2f} for all hosts")
    print(f"  {'an unchanged host besides its key (look-ups)':<46} {figures['lookups_s']:6.2f} for all hosts")
    print(f"RESULT sync_levers hosts={args.hosts} " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()))
    return 0


def _rows(organization, facts: list, now, cpu) -> tuple[float, float]:
    """Phase 2's Python work for new devices, without the database: the way before (a ``Device`` and an
    ``AuditEvent`` instance each, and the rows ``COPY`` took from them) and now (``NewDevice``, plain tuples as
    ``core.bulk.insert_rows`` prepares them). Ids are made up; nothing is written."""
    import json
    from operator import attrgetter

    from core.actors import Actor
    from core.models import AuditEvent
    from devices.models import AssignmentStatus, AvailabilityStatus, Device, Usage
    from mdm_sync import sync_apply

    actor = Actor.system("bench")
    jsons = ("fleet_emails", "local_accounts", "enrollment_issues")

    def instance_row(model, obj) -> list:  # what the COPY writer took from each instance (every concrete column)
        row = []
        for field in model._meta.concrete_fields:
            value = field.pre_save(obj, True) if getattr(field, "auto_now", False) or getattr(
                field, "auto_now_add", False) else getattr(obj, field.attname)
            row.append(json.dumps(value) if value is not None and field.get_internal_type() == "JSONField" else value)
        return row

    def old():
        out = []
        for pk, item in enumerate(facts, start=1):
            device = Device(organization=organization, usage=Usage.INDIVIDUAL,
                            assignment_status=AssignmentStatus.TO_ASSIGN, availability_status=AvailabilityStatus.IN_USE)
            sync_apply._write_facts(device, item, now)
            device.pk = pk
            event = AuditEvent(organization=organization, event="device.created", source="sync",
                               target_type="devices.device", target_id=str(pk), target_label=str(device)[:255],
                               after={"fleet_host_id": device.fleet_host_id, "serial_number": device.serial_number,
                                      "platform": device.platform}, **actor.audit_fields)
            out.append((instance_row(Device, device), instance_row(AuditEvent, event)))
        return out

    rows = sync_apply._Rows(organization, actor)
    values = attrgetter(*sync_apply.NEW_DEVICE_FIELDS)
    device_jsons = [sync_apply.NEW_DEVICE_FIELDS.index(name) for name in jsons]

    def new():
        out = []
        for pk, item in enumerate(facts, start=1):
            device = sync_apply._new_device(organization, item, now)
            device.pk = pk
            row = list(values(device))
            for i in device_jsons:
                row[i] = json.dumps(row[i])
            event = list(rows.created_event(device))
            event[7], event[8] = json.dumps(event[7]), json.dumps(event[8])
            out.append((row, event))
        return out

    return cpu(old)[0], cpu(new)[0]


if __name__ == "__main__":
    sys.exit(main())
