"""The stored digests of an organization's devices, read once a sync run (:class:`DigestMap`).

An unchanged sync looks every listed host up here (its device's stored digest, whether it was enrolled before), and
a host new to us by its serial (a stale duplicate of a device's host never costs a Get host). Compact, so that
memory stays flat as the fleet grows.
"""

from array import array
from bisect import bisect_left

from django.db.models import BooleanField, ExpressionWrapper, Q

from mdm_sync.sync_keys import KEY_BYTES

CHUNK = 5000


class DigestMap:
    """Every stored digest of the organization's devices, read once per run in one streamed query: host id ->
    (stored digest, enrolled before), and serial -> host id. Compact, so that memory stays flat as the fleet
    grows: sorted arrays of 8-byte ids, 20 bytes of digest and one flag byte each, and the serials' 8-byte hashes
    with their host ids (~46 bytes a device, 5 MB for 100,000), where dicts of strings would take ~300 bytes."""

    # Flag bits; a stored digest that is not 40 hex digits is kept as text aside. _MISSING: the device is already
    # marked "not seen in Fleet", so its host is not looked for among the absent ones (:meth:`absent`).
    _ENROLLED, _DIGEST, _MISSING = 1, 2, 4

    def __init__(self, rows):
        """``rows``: (host id, stored digest, enrolled before, serial[, marked missing]), in ascending host id
        order."""
        self._ids = array("q")
        self._digests = bytearray()
        self._flags = bytearray()
        self._odd: dict[int, str] = {}  # the rare stored digest that is not a SHA-1 in hex (say, "")
        serial_hashes, serial_ids = array("q"), array("q")
        for host_id, digest, enrolled, serial, *missing in rows:
            self._add(host_id, digest, (self._ENROLLED if enrolled else 0) | (
                self._MISSING if missing and missing[0] else 0))
            if serial:
                serial_hashes.append(_serial_hash(serial))
                serial_ids.append(host_id)
        self._index_serials(serial_hashes, serial_ids)

    def _add(self, host_id: int, digest: str, flags: int) -> None:
        try:
            packed = bytes.fromhex(digest) if len(digest) == 40 else None
        except ValueError:
            packed = None
        if packed is not None and packed.hex() == digest:
            flags |= self._DIGEST
        else:
            self._odd[host_id] = digest
            packed = bytes(20)
        self._ids.append(host_id)
        self._digests += packed
        self._flags.append(flags)

    def _index_serials(self, serial_hashes: array, serial_ids: array) -> None:
        order = sorted(range(len(serial_hashes)), key=serial_hashes.__getitem__)
        self._serial_hashes = array("q", (serial_hashes[i] for i in order))
        self._serial_ids = array("q", (serial_ids[i] for i in order))

    @classmethod
    def load(cls, devices) -> "DigestMap":
        """From the rows of ``devices`` (a queryset), one row at a time."""
        enrolled = ExpressionWrapper(Q(mdm_enrolled_at__isnull=False), output_field=BooleanField())
        missing = ExpressionWrapper(Q(fleet_missing_since__isnull=False), output_field=BooleanField())
        return cls(devices.filter(fleet_host_id__isnull=False).annotate(enrolled=enrolled, missing=missing)
                   .order_by("fleet_host_id")
                   .values_list("fleet_host_id", "fleet_facts_hash", "enrolled", "serial_number", "missing")
                   .iterator(chunk_size=CHUNK))

    def absent(self, seen) -> list[int]:
        """The hosts of devices not yet marked "not seen in Fleet" that the listing did not see (``seen``: the run's
        ``HostIds``). Only a sync gives a device its Fleet host or marks it missing, and one sync runs at a time: the
        map read at the start of the run still holds them all (a device deleted meanwhile is only looked for in
        vain)."""
        unseen = set(self._ids).difference(seen.ids())  # in C: no bisection a device (~0.1 s at 100,000)
        if not unseen:
            return []
        flags, missing = self._flags, self._MISSING
        return [host_id for i, host_id in enumerate(self._ids) if host_id in unseen and not flags[i] & missing]

    def get(self, host_id: int) -> tuple[str, bool] | None:
        """(stored digest, enrolled before) of the device holding this host, or None when no device does."""
        ids = self._ids
        i = bisect_left(ids, host_id)
        if i == len(ids) or ids[i] != host_id:
            return None
        flags = self._flags[i]
        digest = self._digests[i * 20:i * 20 + 20].hex() if flags & self._DIGEST else self._odd[host_id]
        return digest, bool(flags & self._ENROLLED)

    def find(self, host_id: int) -> int:
        """The position of the device holding this host (for :meth:`enrolled` and :meth:`key`), or -1 when none does:
        the listing's hot path, without the tuple and the hex digits of :meth:`get`."""
        ids = self._ids
        i = bisect_left(ids, host_id)
        return i if i < len(ids) and ids[i] == host_id else -1

    def enrolled(self, i: int) -> bool:
        return bool(self._flags[i] & self._ENROLLED)

    def key(self, i: int) -> bytes | None:
        """The stored key's 10 bytes (``sync_keys.HostKeys.raw``), or None for a digest kept as text (no key, or not
        hex: no key equals it)."""
        return self._digests[i * 20:i * 20 + KEY_BYTES] if self._flags[i] & self._DIGEST else None

    def host_of_serial(self, serial: str) -> int | None:
        """The Fleet id of the host whose device has this serial (as stored), or None. By an 8-byte hash of the
        serial: a new host's serial meets another's hash with a chance of about 1 in 10^13 among a million
        devices; such a false match would keep that host from asking for its details and, when the matched device's
        host is listed, from being written this run (``sync_listing.list_hosts`` sets it aside). Python's hash is
        seeded per process: the same false match does not outlive the worker process."""
        hashes, value = self._serial_hashes, _serial_hash(serial)
        i = bisect_left(hashes, value)
        return self._serial_ids[i] if i < len(hashes) and hashes[i] == value else None

    def __len__(self) -> int:
        return len(self._ids)


def _serial_hash(serial: str) -> int:
    """Python's own hash of the serial's UTF-8 (SipHash, 8 bytes, in C): the map is built and read in one process,
    so the hash need only agree with itself there."""
    return hash(serial.encode("utf-8", "surrogatepass"))
