"""Fleet simulator: a real HTTP server on loopback that speaks FleetDM's REST API for hosts.

Why it exists: the cockpit's sync must be exercised against Fleet's real rules, not against hand-made
JSON. Fleet pages are 0-based, `page` alone means 20 per page, no paging parameters means *every*
host, there is no total in the body, hosts appear or vanish between two pages, and servers fail in
many ways (5xx, 429 with Retry-After, slow pages, cut-off bodies, a proxy's HTML login page). Tests,
the demo (`manage.py fleet_simulator`) and benchmarks all talk to this server over HTTP, exactly as
the client would talk to Fleet. Field names and rules follow Fleet's REST API (list hosts, count,
get host, device mapping, delete, turn off MDM, lock/unlock/wipe); nothing is read from disk.

Scale: host *i* is computed on demand from ``(seed, i)``; the simulator stores only what changed
(deletions, additions, re-enrollments, field overrides, pending lock/wipe). A 100,000-host simulator
costs a few kilobytes until asked, and a page costs only its own hosts.

Situations: every block of 100 consecutive ids holds exactly ``SITUATION_SHARES[name]`` hosts of each
situation, shuffled per block with the seed, so 200 hosts hold exactly twice the shares. A host's
situation is ``FleetSimulator.situation(host_id)``; see ``SITUATIONS`` for what each one looks like.

People: host identities belong to employees ``1..employee_count`` (``employee_count_for(hosts)``,
80 % of the initial host count); host identity *i* belongs to employee ``1 + (i - 1) % employee_count``.
``employee_name(k)`` / ``employee_email(k, domain)`` are pure functions of *k*, so demo seeding can
create the matching employees without talking to the simulator.

Times: relative to ``now``. With a fixed ``now`` everything is deterministic. With ``now=None`` the
real clock is used for live contact times (hosts that are "seen recently" stay recent in a long demo)
and the construction time anchors historical ones (created_at, when a stale host went silent).

Lock and wipe settle like Fleet's queued MDM commands: the host shows the pending action through the
next listing (a list request for page 0, or without a page) and the final state (``locked``/``wiped``,
``pending_action: ""``) from the listing after that; ``settle_device_actions()`` settles at once.

Conventions worth knowing when reading its answers: device-mapping sources are shown as Fleet's API
shows them (``custom`` for the installer e-mail, ``mdm_idp_accounts`` for SSO), except for the
``sso_legacy_source`` hosts, which use the older raw spellings ``custom_installer``/``identity_provider``.
A host with MDM Off or without MDM has ``mdm.name: ""`` and ``mdm.server_url: null``. List responses are
streamed with chunked transfer encoding (as Go's net/http does), so an unpaged listing stays cheap.
Besides the brief's endpoints, ``GET /hosts/identifier/:id`` and ``POST /hosts/:id/unlock`` exist, and labels
(list, get, create, modify with ``hosts``/``host_ids`` replacing a manual label's members, delete by id) are
kept per simulator, builtin ones included; ``Faults.labels_status`` makes every label request fail.

The package, by subdomain: ``identity`` (situations, employees, what a device is), ``records`` (what Fleet
knows of a host: times, agent, MDM, people, the Get-host object), ``query`` (list parameters and filters),
``labels`` (the label store), ``state`` (``FleetSimulator``: changes, faults, listing) and ``server`` (HTTP).
"""

from mdm_sync.simulator.identity import (
    REENROLLED,
    SITUATION_SHARES,
    SITUATIONS,
    employee_count_for,
    employee_email,
    employee_name,
    employee_username,
    layout_situation,
)
from mdm_sync.simulator.labels import LabelConflict
from mdm_sync.simulator.query import BadRequest, ListQuery
from mdm_sync.simulator.records import DETAIL_ONLY_FIELDS, LIST_MDM_FIELDS, NEVER, is_shared_host, rfc3339
from mdm_sync.simulator.server import fleet_error
from mdm_sync.simulator.state import Faults, FleetSimulator

__all__ = ["DETAIL_ONLY_FIELDS", "LIST_MDM_FIELDS", "NEVER", "REENROLLED", "SITUATIONS", "SITUATION_SHARES",
           "BadRequest", "Faults", "FleetSimulator", "LabelConflict", "ListQuery", "employee_count_for",
           "employee_email", "employee_name", "employee_username", "fleet_error", "is_shared_host",
           "layout_situation", "rfc3339"]
