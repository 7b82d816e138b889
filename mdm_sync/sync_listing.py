"""Phase 1 of the sync: list every host Fleet has, without writing anything.

Pages are read ahead in a thread. The stored digests are read once a run (:class:`DigestMap`); a host whose key
(``sync_keys``) or :class:`HostFacts` digest equals its device's is unchanged and only its id is kept (8 bytes, in
:class:`HostIds`). A changed host's facts are built straight from its typed decoding (``fleet_wire.ListedHost``,
``sync_facts``). The Get-host details some changed hosts need are fetched a few at a time while the next
pages are listed. Changed hosts' facts go to a temporary file (:class:`Spill`), not to memory: memory stays
flat as the fleet grows. A stale duplicate (a host no device holds, whose device has a newer host) is set aside in
that file as listed; once every page is read, it is dropped if that newer host was listed (as phase 2 would skip it)
and only otherwise gets its facts. Fleet keeps a re-imaged or re-enrolled device's old host record (fleetdm/fleet
#31725, #31934) until someone deletes it or host expiry does (which current Fleet skips for MDM-enrolled hosts), so
they pile up; each cost ~40 µs a run (facts, key, spill) where it now costs ~13. A listing that ends with fewer
hosts than Fleet counts is refused (:class:`IncompleteListing`), and hosts missing from it are confirmed gone before
phase 2 marks them.
"""

import heapq
import logging
import pickle
import tempfile
import threading
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from queue import Empty, Full, Queue

from django.utils import timezone

from devices.models import Device
from devices.services import normalize_serial
from mdm_sync import sync_facts
from mdm_sync.fleet import FleetAuthError, FleetClient, FleetError, FleetHost, FleetNotFound, WireHost
from mdm_sync.fleet_wire import ListedHost, listed_host
from mdm_sync.health import Assessment, HealthPolicy, assess
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.sync_digests import DigestMap
from mdm_sync.sync_facts import SEEN_RESOLUTION, HostFacts, host_facts, needs_details, pending_digest
from mdm_sync.sync_keys import HostKeys, rules_fingerprint, same_facts, stored_digest

__all__ = ["SEEN_RESOLUTION", "DigestMap", "HostFacts", "host_facts", "list_hosts", "needs_details", "pending_digest"]

logger = logging.getLogger(__name__)

CHUNK = 1000
# Absences confirmed one by one (GET → 404) up to this many; past it, see ``_confirm_absences``.
MAX_ABSENCE_CHECKS = 200
# Changed hosts whose health the list view cannot settle get their Get-host details, up to this many a run;
# the others keep a pending digest and are asked for on the next runs.
MAX_DETAIL_FETCHES = 2000
DETAIL_THREADS = 4  # Get-host requests in flight at once (the client's pool keeps 8 connections)
DETAIL_PAGES_AHEAD = 4  # pages listed while earlier pages still wait for their details


RULES = rules_fingerprint(__file__, sync_facts.__file__)  # the facts' rules, these modules' among them: in every key


class IncompleteListing(FleetError):
    """The pages ended, but fewer hosts than Fleet counts: applying it could mark present hosts missing."""


class HostIds:
    """The host ids a listing saw: a sorted array of 8-byte ints (a Python set would cost ~60 bytes each)."""

    def __init__(self):
        self._ids = array("q")
        self._sorted = True

    def add(self, host_id: int) -> bool:
        """Add; False if it was already there. Pages come in ascending id order, so this is an append."""
        ids = self._ids
        if ids and host_id <= ids[-1]:
            if host_id in self:  # may sort the ids into a new array: append to that one
                return False
            ids, self._sorted = self._ids, False
        ids.append(host_id)
        return True

    def __contains__(self, host_id) -> bool:
        ids = self._ids
        if not self._sorted:
            self._ids, self._sorted = array("q", sorted(ids)), True
            ids = self._ids
        i = bisect_left(ids, host_id)
        return i < len(ids) and ids[i] == host_id

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> array:
        """Every id seen, in no particular order."""
        return self._ids


class Spill:
    """The changed hosts' facts, kept out of memory: pickled a page at a time into an anonymous temporary
    file (private to this run, gone when closed or when the process dies), read back newest first. Pickled as
    plain tuples (a named tuple pickles through a Python method: ~20 µs a host more, both ways). The stale
    duplicates are set aside in the same file as listed, until the listing ends (:meth:`set_aside`)."""

    def __init__(self):
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), called in a finally)
        self._blocks: list[tuple[int, int]] = []
        self._aside: list[tuple[int, int]] = []  # blocks of hosts set aside as they were listed
        self._late: list[HostFacts] = []
        self.count = 0

    def _write(self, data: bytes) -> tuple[int, int]:
        at = self._file.seek(0, 2)
        self._file.write(data)
        return at, len(data)

    def add(self, facts: list[HostFacts]) -> None:
        if facts:
            self._blocks.append(self._write(pickle.dumps(list(map(tuple, facts)), protocol=pickle.HIGHEST_PROTOCOL)))
            self.count += len(facts)

    def set_aside(self, hosts: list[tuple[WireHost | FleetHost, int]]) -> None:
        """A page's stale duplicates as listed, each with the Fleet id of the newer host its device has, kept on disk
        until the listing ends (~900 bytes each)."""
        if hosts:
            self._aside.append(self._write(pickle.dumps(hosts, protocol=pickle.HIGHEST_PROTOCOL)))

    def set_aside_hosts(self) -> Iterator[tuple[WireHost | FleetHost, int]]:
        """What :meth:`set_aside` kept, in the order it was listed, a page at a time."""
        for offset, length in self._aside:
            self._file.seek(offset)
            yield from pickle.loads(self._file.read(length))

    def add_late(self, facts: list[HostFacts]) -> None:
        """Facts built after the listing (the few stale duplicates whose device's newer host was not listed), kept in
        memory and read in their place by host id."""
        self._late += facts
        self.count += len(facts)

    def newest_first(self, size: int) -> Iterator[list[HostFacts]]:
        """Chunks of about ``size`` facts in descending host id order (pages were listed ascending; the late facts are
        merged in by id)."""
        late, j = sorted(self._late, key=_host_id, reverse=True), 0
        chunk: list[HostFacts] = []
        for offset, length in reversed(self._blocks):
            self._file.seek(offset)
            block = sorted(map(HostFacts._make, pickle.loads(self._file.read(length))), key=_host_id, reverse=True)
            k, lowest = j, block[-1].host_id
            while k < len(late) and late[k].host_id >= lowest:
                k += 1
            if k > j:
                block, j = list(heapq.merge(block, late[j:k], key=_host_id, reverse=True)), k
            chunk += block
            if len(chunk) >= size:
                yield chunk
                chunk = []
        chunk += late[j:]
        if chunk:
            yield chunk

    def close(self) -> None:
        self._file.close()


_host_id = attrgetter("host_id")


class DigestRefresh:
    """Unchanged hosts whose stored key is out of date (:mod:`mdm_sync.sync_keys`): host id, the digest stored now
    and the one to store, packed (none in a steady state; every host once after an upgrade of the rules)."""

    def __init__(self):
        self.ids = array("q")
        self._digests = bytearray()  # 80 ASCII bytes a host: the digest stored now, then the new one

    def add(self, host_id: int, old: str, new: str) -> None:
        self.ids.append(host_id)
        self._digests += f"{old:<40.40}{new:<40.40}".encode()

    def __iter__(self) -> Iterator[tuple[int, str, str]]:
        for i, host_id in enumerate(self.ids):
            both = self._digests[i * 80:i * 80 + 80].decode()
            yield host_id, both[:40].rstrip(), both[40:].rstrip()

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Listing:
    seen: HostIds = field(default_factory=HostIds)
    changed: Spill = field(default_factory=Spill)
    refresh: DigestRefresh = field(default_factory=DigestRefresh)
    gone: list[int] = field(default_factory=list)  # known hosts confirmed absent from Fleet
    unchanged: int = 0
    pages: int = 0
    fleet_count: int = 0



def list_hosts(client: FleetClient, listing: Listing, *, organization, now: datetime, per_page: int,
                run: SyncRun, connection: FleetConnection) -> None:
    """Phase 1. The next pages are fetched while this one is compared with the stored digests (read once, in
    one query: :class:`DigestMap`); a host whose key (:mod:`mdm_sync.sync_keys`) is the stored one is skipped
    before anything is built for it. Only changed hosts are kept, in ``listing.changed`` (on disk), so memory
    does not grow with the fleet. No query a page."""
    count_before = client.count_hosts()
    policy = HealthPolicy.for_organization(
        organization, apns_certificate_expired=_apns_expired(client, connection, now=now)
    )
    # The first pages download (and decode) in their thread while the digest map loads.
    pages = ReadAhead(client.iter_listed_pages(per_page=per_page))
    try:
        stored = DigestMap.load(Device.objects.for_org(organization))  # one query a run, not one a page
    except BaseException:
        pages.close()
        raise
    keys = HostKeys(policy=policy, now=now, seen_resolution=SEEN_RESOLUTION, rules=RULES)
    details_budget = MAX_DETAIL_FETCHES

    def write_digest(host: ListedHost | FleetHost, wire, enrolled: bool, facts: HostFacts, *,
                     detailed: bool = False) -> HostFacts:
        """The facts with the digest their device will store: the key, computed with the enrollment the device
        will have once written when that changes nothing in the facts (so the next run skips the host), then the
        facts digest."""
        if not isinstance(wire, WireHost):
            return facts._replace(digest=stored_digest(None, facts.digest))
        after = enrolled or facts.activated
        if after != enrolled:
            # Without details, the facts' health is the list view's, assessed with ``enrolled``.
            listed = (assess(host, policy=policy, now=now, previously_enrolled=enrolled) if detailed
                      else Assessment(activated=facts.activated, issues=facts.issues))
            if assess(host, policy=policy, now=now, previously_enrolled=after) != listed:
                after = enrolled
        return facts._replace(digest=stored_digest(keys.key(wire, enrolled=after), facts.digest))

    def finish(changed: list[HostFacts], waiting: list, futures: list) -> None:
        """A page's hosts that waited for their details, then the whole page to the spill."""
        for (host, wire, enrolled, digest), future in zip(waiting, futures, strict=True):
            detail = future.result()
            facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled, details=detail)
            if detail is None:  # list-view health for now; the differing digest brings the host back next run
                pending_facts = pending_digest(facts.digest)
                if same_facts(digest, pending_facts):
                    listing.unchanged += 1
                    continue
                facts = facts._replace(digest=stored_digest(None, pending_facts))
            else:
                facts = write_digest(host, wire, enrolled, facts, detailed=True)
            changed.append(facts)
        listing.changed.add(changed)

    pool = ThreadPoolExecutor(max_workers=DETAIL_THREADS, thread_name_prefix="fleet-details")
    try:
        # A page's details are fetched while the next pages are listed; pages reach the spill in order.
        pending: deque = deque()
        find, raw_key = stored.find, keys.raw
        for page in pages:
            listing.pages += 1
            fresh: list[tuple[WireHost | FleetHost, str | None]] = []  # (host as listed, its key) not skipped
            stale: list[tuple] = []  # stale duplicates and their device's newer host, set aside until the end
            for item in page:
                if not listing.seen.add(item.id):
                    continue
                i, key = find(item.id), None
                if i >= 0 and isinstance(item, WireHost):
                    raw = raw_key(item, enrolled=stored.enrolled(i))
                    if raw == stored.key(i):  # the same inputs, so the same facts: nothing to build
                        listing.unchanged += 1
                        continue
                    key = raw.hex()
                elif i < 0 and (newer := _newer_host(stored, item)):
                    stale.append((item, newer))  # its facts only matter if that newer host is not listed
                    continue
                fresh.append((item, key))
            listing.changed.set_aside(stale)
            hosts = [listed_host(item) for item, _ in fresh]  # only what the facts read, for changed hosts only
            known = _known(stored, hosts)
            changed: list[HostFacts] = []
            waiting: list[tuple] = []  # (host, as listed, enrolled, stored digest): its details are asked for
            for (wire, key), host in zip(fresh, hosts, strict=True):
                digest, enrolled = known.get(host.id, (None, False))
                facts = host_facts(host, policy=policy, now=now, previously_enrolled=enrolled)
                if same_facts(digest, facts.digest):
                    listing.unchanged += 1
                    if key is not None:  # the key changed, not the facts: store the key, write nothing else
                        listing.refresh.add(host.id, digest, stored_digest(key, facts.digest))
                    continue
                if needs_details(host, policy=policy, now=now, previously_enrolled=enrolled):
                    if details_budget:
                        details_budget -= 1
                        waiting.append((host, wire, enrolled, digest))
                        continue
                    pending_facts = pending_digest(facts.digest)
                    if same_facts(digest, pending_facts):
                        listing.unchanged += 1
                        continue
                    facts = facts._replace(digest=stored_digest(None, pending_facts))
                else:
                    facts = write_digest(host, wire, enrolled, facts)
                changed.append(facts)
            pending.append((changed, waiting, [pool.submit(_details, client, host.id) for host, *_ in waiting]))
            while len(pending) > DETAIL_PAGES_AHEAD or (pending and all(f.done() for f in pending[0][2])):
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
        # The stale duplicates whose device's newer host was listed are dropped, as phase 2 would skip them (and count
        # them unchanged); the others (that newer host is gone) get their facts now.
        late = []
        for item, newer in listing.changed.set_aside_hosts():
            if newer in listing.seen:
                listing.unchanged += 1
                continue
            host = listed_host(item)
            late.append(write_digest(host, item, False, host_facts(host, policy=policy, now=now,
                                                                   previously_enrolled=False)))
        listing.changed.add_late(late)
    finally:
        pages.close()
        pool.shutdown(wait=True, cancel_futures=True)
    count_after = client.count_hosts()
    listing.fleet_count = count_after
    run.pages, run.hosts_listed, run.fleet_count = listing.pages, len(listing.seen), count_after
    if len(listing.seen) < min(count_before, count_after):
        raise IncompleteListing(
            f"Fleet listed {len(listing.seen)} hosts but counts {min(count_before, count_after)}: "
            "the listing is incomplete, so nothing was changed."
        )
    absent = stored.absent(listing.seen)  # no second pass over the devices
    listing.gone = _confirm_absences(client, absent, fleet_shrank=count_after < count_before)


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


class ReadAhead:
    """``pages``, fetched and parsed in a thread ``depth`` pages ahead: Fleet prepares the next page
    while this one is compared with the database. The thread starts at once, so the first pages download while
    the caller still prepares (the run's digest map loads meanwhile). An error is raised here, in its turn;
    ``close()`` stops the thread, whether or not the pages were read."""

    def __init__(self, pages: Iterator, depth: int = 2):
        self._pages = pages
        self._queue: Queue = Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="fleet-pages", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def _produce(self) -> None:
        pages = self._pages
        try:
            for page in pages:
                if not self._put(page):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Raised(exc))
            return
        finally:
            if self._stop.is_set():
                pages.close()
        self._put(_END)

    def __iter__(self) -> "ReadAhead":
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, _Raised):
            self.close()
            raise item.exc
        return item

    def close(self) -> None:
        self._done = True
        self._stop.set()
        while True:  # free the pages already read ahead; a producer blocked on a full queue sees the stop
            try:
                self._queue.get_nowait()
            except Empty:
                break
        self._thread.join(timeout=60)


def _newer_host(stored: DigestMap, item: WireHost | FleetHost) -> int:
    """For a host no device holds: the Fleet id of the newer host whose device has its serial (a stale duplicate,
    which never costs a details request), or 0."""
    serial = normalize_serial(item.hardware_serial)[:100]
    newest = stored.host_of_serial(serial) if serial else None
    return newest if newest and newest > item.id else 0


def _known(stored: DigestMap, hosts: list[ListedHost | FleetHost]) -> dict[int, tuple[str, bool]]:
    """For a page's hosts, from the run's digest map: host id -> (stored digest, enrolled before), for the hosts a
    device holds. No query."""
    return {host.id: found for host in hosts if (found := stored.get(host.id)) is not None}


def _apns_expired(client: FleetClient, connection: FleetConnection, *, now: datetime) -> bool:
    """Read Fleet's Apple push certificate, record it on the connection, and say whether it has expired.

    A failed read (no permission, Fleet down, garbage) never fails the sync: the error is recorded
    and the last known expiry date stands.
    """
    try:
        certificate = client.get_apns()
    except FleetError as exc:
        logger.warning("Fleet APNs certificate of %s unreadable: %s", connection.organization_id, exc)
        connection.apns_error = f"Could not read the Apple push certificate: {exc}"[:500]
        FleetConnection.objects.filter(pk=connection.pk).update(apns_error=connection.apns_error)
        return connection.apns_expired(now)
    connection.apns_configured = certificate is not None
    connection.apns_expires_at = certificate.renew_date if certificate else None
    connection.apns_checked_at, connection.apns_error = timezone.now(), ""
    FleetConnection.objects.filter(pk=connection.pk).update(
        apns_configured=connection.apns_configured, apns_expires_at=connection.apns_expires_at,
        apns_checked_at=connection.apns_checked_at, apns_error="",
    )
    return connection.apns_expired(now)


def _details(client: FleetClient, host_id: int) -> FleetHost | None:
    """Get host, or None when it cannot be had now (the list view's health stands for this run)."""
    try:
        return client.get_host(host_id)
    except FleetAuthError:
        raise
    except FleetError as exc:
        logger.warning("Fleet host %s details unavailable: %s", host_id, exc)
        return None


def _confirm_absences(client: FleetClient, absent: list[int], *, fleet_shrank: bool) -> list[int]:
    """The known hosts really gone from Fleet.

    Pages are offsets: a host deleted mid-listing shifts the later pages, and a present host can
    slip between two of them. So an absence is confirmed by asking for the host (404: gone). When
    there are too many to ask, the listing is trusted only if Fleet did not shrink while it ran;
    otherwise the marking waits for the next run.
    """
    if len(absent) > MAX_ABSENCE_CHECKS:
        return [] if fleet_shrank else absent
    gone = []
    for host_id in absent:
        try:
            client.get_host(host_id)
        except FleetNotFound:
            gone.append(host_id)
    return gone

