"""Skipping an unchanged host before its facts are built: a key of everything the facts are made of.

A device stores one 40-character digest (``Device.fleet_facts_hash``). The sync stores two halves in it:

* the **key** (20 hex digits): a hash of every input of :func:`mdm_sync.sync_listing.host_facts`, taken from the
  host as Fleet sent it (:class:`~mdm_sync.fleet_wire.WireHost`): the listed fields the facts read, the timestamps
  reduced to what the rules compare (the hour of ``seen_time``, and on which side of the organization's
  thresholds each age falls at ``now``; for an MDM device whose agent is quiet, the round of its details,
  :func:`~mdm_sync.sync_facts.details_round`), whether the device was enrolled before, the health policy, and a
  fingerprint of the rules' source code. Equal keys mean equal inputs, hence equal facts: the host is skipped
  without being converted, assessed or hashed (the unchanged fleet's cost is decoding, one hash and a lookup);
* the **facts digest** (the first 20 hex digits of :attr:`HostFacts.digest <mdm_sync.sync_listing.HostFacts>`),
  compared as before when the keys differ: a key that changed while the facts did not (a system account added,
  a threshold crossed that changes no issue, new code) leaves the device unchanged; only its stored key is
  refreshed (``Listing.refresh``), so the next run skips the host again.

A digest stored before the key existed (40 digits of the facts digest) still compares equal: upgrading rewrites
no device, it only refreshes the stored digests once. A host whose details are still pending stores
:data:`NO_KEY`, which no key equals, so it is looked at again on every run until its details come.
"""

import hashlib
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from devices.models import DESKTOP_PLATFORMS, EnrollmentIssue
from devices.services import normalize_serial
from mdm_sync import accounts, fleet_types, fleet_wire, health
from mdm_sync.fleet_types import EARLIEST_TIME
from mdm_sync.fleet_wire import WireHost
from mdm_sync.health import HealthPolicy
from mdm_sync.sync_facts import details_round

KEY_LENGTH = 20
KEY_BYTES = KEY_LENGTH // 2
NO_KEY = "-" * KEY_LENGTH  # never equal to a key (hex digits)


def rules_fingerprint(*paths: str | Path) -> bytes:
    """The source of every rule the facts follow (these files, and the modules this one reads): changing any of
    it changes every key once; the facts are then compared as before, and only the stored keys are refreshed."""
    sources = [Path(module.__file__).read_bytes() for module in (accounts, fleet_types, fleet_wire, health)]
    sources += [Path(__file__).read_bytes(), inspect.getsource(normalize_serial).encode(),
                repr((sorted(DESKTOP_PLATFORMS), list(EnrollmentIssue.values))).encode()]  # what health.py reads
    sources += [Path(path).read_bytes() for path in paths]
    return hashlib.sha1(b"\0".join(sources), usedforsecurity=False).digest()


class HostKeys:
    """The keys of one run: its policy and its ``now`` are part of every key."""

    def __init__(self, *, policy: HealthPolicy, now: datetime, seen_resolution: timedelta, rules: bytes):
        self.now = now
        self.offline_after = policy.offline_after
        self.inactive_after = policy.agent_inactive_after
        self.resolution = seen_resolution.total_seconds()
        self._prefix = rules + msgspec.msgpack.encode(
            (policy.offline_after.total_seconds(), policy.agent_inactive_after.total_seconds(),
             policy.apns_certificate_expired, self.resolution))
        self._encode = msgspec.msgpack.Encoder().encode
        # parse_time's "absurdly far ahead" bound, taken once a run: it only ever moves later, so a timestamp
        # this run counts as a date, parse_time counts as one too (the other way round, the key just differs).
        self._latest = datetime.now(UTC) + timedelta(days=366)

    def _time(self, text: str | None) -> datetime | None:
        """:func:`parse_time`, for the key (the same dates, a little faster: the bound is taken once a run)."""
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if not parsed.tzinfo:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed if EARLIEST_TIME <= parsed <= self._latest else None

    def key(self, host: WireHost, *, enrolled: bool) -> str:
        """20 hex digits; equal for two hosts (or two runs) only if :func:`host_facts` would give equal facts."""
        return self.raw(host, enrolled=enrolled).hex()

    def raw(self, host: WireHost, *, enrolled: bool) -> bytes:
        """The key as its 10 bytes, as :meth:`DigestMap.key <mdm_sync.sync_digests.DigestMap.key>` gives the stored
        one: compared without a hex conversion on either side (the unchanged fleet's hot path)."""
        now = self.now
        seen = self._time(host.seen_time)
        if seen is None:
            agent = None
        else:
            age = now - seen
            agent = (int(seen.timestamp() // self.resolution), age > self.offline_after, age > self.inactive_after)
        mdm_seen = self._time(host.last_mdm_checked_in_at) if host.last_mdm_checked_in_at else None
        mdm_enrolled = self._time(host.last_mdm_enrolled_at) is not None if host.last_mdm_enrolled_at else False
        mdm = host.mdm
        mappings, users = host.device_mapping, host.users  # JSON text as Fleet sent it
        # An MDM device quiet past the offline threshold: the facts digest holds its details' round (sync_facts), so
        # the key does too (for such hosts at least: a key that changes more often only costs a refresh).
        quiet = agent is not None and agent[1] and mdm is not None and (
            mdm.enrollment_status or "").strip().lower().startswith("on")
        inputs = (
            host.id, host.uuid, host.hardware_serial, host.hostname, host.display_name, host.computer_name,
            host.platform, host.platform_like, host.hardware_model, host.os_version, host.orbit_version,
            host.osquery_version,
            None if mdm is None else (mdm.enrollment_status, mdm.name, mdm.connected_to_fleet, mdm.device_status,
                                      mdm.pending_action),
            agent, None if mdm_seen is None else now - mdm_seen > self.offline_after, mdm_enrolled, enrolled,
            len(mappings), len(users), details_round(host.id, now) if quiet else None,
        )
        return hashlib.sha1(b"".join((self._prefix, self._encode(inputs), mappings, users)),
                            usedforsecurity=False).digest()[:KEY_BYTES]


def stored_digest(key: str | None, facts_digest: str) -> str:
    """What the device stores: the key, then the facts digest's first half (:data:`NO_KEY` without a key)."""
    return (key or NO_KEY) + facts_digest[:KEY_LENGTH]


def key_matches(stored: str | None, key: str | None) -> bool:
    return key is not None and key != NO_KEY and stored is not None and stored[:KEY_LENGTH] == key


def same_facts(stored: str | None, facts_digest: str) -> bool:
    """The stored digest holds these facts (its second half; or, stored before keys existed, all of it)."""
    return stored is not None and (stored[KEY_LENGTH:] == facts_digest[:KEY_LENGTH] or stored == facts_digest)
