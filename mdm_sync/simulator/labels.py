"""Fleet's labels, as the simulator keeps them: the builtin ones, and those created through the API.

A manual label holds host ids (replaced as a whole by ``PATCH``); deleted hosts drop out of its answer. The
methods are mixed into :class:`~mdm_sync.simulator.state.FleetSimulator` and hold its lock.
"""

from __future__ import annotations

from mdm_sync.simulator.query import BadRequest
from mdm_sync.simulator.records import rfc3339


class LabelConflict(Exception):
    """A label name already taken: Fleet answers 409."""


# Fleet's builtin labels (ids 1..n, as a fresh Fleet creates them): names are taken, and they cannot be changed.
BUILTIN_LABELS = (
    ("All Hosts", "SELECT 1;"), ("macOS", "SELECT 1 FROM os_version WHERE platform = 'darwin';"),
    ("Ubuntu Linux", "SELECT 1 FROM os_version WHERE platform = 'ubuntu';"),
    ("CentOS Linux", "SELECT 1 FROM os_version WHERE platform = 'centos';"),
    ("MS Windows", "SELECT 1 FROM os_version WHERE platform = 'windows';"),
    ("Red Hat Linux", "SELECT 1 FROM os_version WHERE name LIKE '%red hat%';"),
    ("All Linux", "SELECT 1 FROM osquery_info WHERE build_platform LIKE '%ubuntu%';"),
    ("chrome", "SELECT 1 FROM os_version WHERE platform = 'chrome';"),
    ("iOS", ""), ("iPadOS", ""), ("Fedora Linux", ""), ("Android", ""),
)


class SimulatedLabels:
    """The label store and its API-level operations (thread-safe), part of ``FleetSimulator``."""

    def _init_labels(self) -> None:
        """Fleet's builtin labels, then those created through the API (manual ones hold host ids)."""
        self._labels: dict[int, dict] = {
            label_id: {"id": label_id, "name": name, "description": f"All {name} hosts", "query": query,
                       "label_type": "builtin", "label_membership_type": "dynamic", "host_ids": set()}
            for label_id, (name, query) in enumerate(BUILTIN_LABELS, start=1)
        }
        self._next_label_id = len(BUILTIN_LABELS) + 1

    def label_json(self, label_id: int) -> dict | None:
        """A label as Fleet answers it; a manual label's ``host_ids`` leave out hosts deleted since."""
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                return None
            host_ids = sorted(h for h in label["host_ids"] if self._exists(h))
            moment = rfc3339(self._anchor)
            return {"created_at": moment, "updated_at": moment, "id": label["id"], "name": label["name"],
                    "description": label["description"], "query": label["query"], "platform": "",
                    "label_type": label["label_type"], "label_membership_type": label["label_membership_type"],
                    "display_text": label["name"], "count": len(host_ids), "host_ids": host_ids}

    def labels(self) -> list[dict]:
        with self._lock:
            return [self.label_json(label_id) for label_id in sorted(self._labels)]

    def manual_labels(self) -> dict[str, list[int]]:
        """{name: host ids} of the labels created through the API (what tests compare with the groups)."""
        return {label["name"]: label["host_ids"] for label in self.labels() if label["label_type"] == "regular"}

    def _label_hosts(self, body: dict) -> set[int] | None:
        hosts, host_ids = body.get("hosts"), body.get("host_ids")
        if hosts is not None and host_ids is not None:
            raise BadRequest("Only one of hosts or host_ids can be included in the request.")
        if host_ids is not None:
            if not isinstance(host_ids, list) or not all(isinstance(i, int) and i > 0 for i in host_ids):
                raise BadRequest("host_ids must be a list of host ids")
            return set(host_ids)
        if hosts is not None:
            if not isinstance(hosts, list) or not all(isinstance(i, str) for i in hosts):
                raise BadRequest("hosts must be a list of host identifiers")
            wanted = {identifier for identifier in hosts if identifier}
            return {host_id for host_id in self.host_ids()
                    if wanted & {(h := self.host_json(host_id))["hostname"], h["uuid"], h["hardware_serial"]}}
        return None

    def _check_label_name(self, name, *, exclude: int | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name: missing required argument")
        if any(label["name"] == name and label_id != exclude for label_id, label in self._labels.items()):
            raise LabelConflict(f"A label named {name!r} already exists")
        return name

    def create_label(self, body: dict) -> dict:
        """``POST /labels``: a manual label unless a ``query`` is given; LabelConflict on a taken name."""
        with self._lock:
            name = self._check_label_name(body.get("name"))
            query = body.get("query") or ""
            host_ids = self._label_hosts(body)
            if query and host_ids is not None:
                raise BadRequest("Only one of query, hosts or host_ids can be included in the request.")
            label_id, self._next_label_id = self._next_label_id, self._next_label_id + 1
            self._labels[label_id] = {
                "id": label_id, "name": name, "description": str(body.get("description") or ""), "query": query,
                "label_type": "regular", "label_membership_type": "dynamic" if query else "manual",
                "host_ids": host_ids or set(),
            }
            return self.label_json(label_id)

    def modify_label(self, label_id: int, body: dict) -> dict:
        """``PATCH /labels/:id``: name, description, and a manual label's hosts (replaced, ``[]`` empties)."""
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                raise KeyError(label_id)
            if label["label_type"] == "builtin":
                raise ValueError("Built-in labels can't be modified")
            host_ids = self._label_hosts(body)
            if host_ids is not None and label["label_membership_type"] != "manual":
                raise ValueError("Only the hosts of a manual label can be changed")
            if "name" in body:
                label["name"] = self._check_label_name(body["name"], exclude=label_id)
            if "description" in body:
                label["description"] = str(body["description"] or "")
            if host_ids is not None:
                label["host_ids"] = host_ids
            return self.label_json(label_id)

    def delete_label(self, label_id: int) -> None:
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                raise KeyError(label_id)
            if label["label_type"] == "builtin":
                raise ValueError("Built-in labels can't be deleted")
            del self._labels[label_id]
