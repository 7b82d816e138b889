"""The device list's statements, in SQL this module owns: the API (``/api/v1/devices/``) and the cockpit inventory.

``DeviceFilterSet`` validates the query string (django-filter's public API: ``is_valid()``, ``form.cleaned_data``);
:func:`filter_spec` turns its cleaned values into plain ones (a group or an employee becomes its id), and
:class:`DeviceListing` turns those into SQL from a whitelist: every filter is a fixed condition with named
parameters, every ordering a fixed column, and the organization is always a bound parameter. Nothing here reads
a library's private attributes or compiled SQL.

A page is one statement, ``… WHERE organization_id = %(organization_id)s AND id IN (SELECT id … ORDER BY … LIMIT
… OFFSET …) ORDER BY …``: the inner select reads the page's ids from an index led by the organization, the outer
one reads those rows with their assignee and technician (``core.paging`` explains why). On PostgreSQL each row's
group names come in the same statement (an ``ARRAY(SELECT …)`` column); SQLite has no arrays, so there a second
statement reads them for the page (the documented fallback; the rows are the same). Rows are plain dicts:
:func:`api_rows` the API's JSON, :func:`inventory_rows` what ``devices/_device_rows.html`` shows.

The filters' meaning is the FilterSet's (``devices.filtersets``, whose ORM methods the CSV export still runs);
``tests/devices/test_listing.py`` holds every filter and ordering to the rows the FilterSet selects, on SQLite
and PostgreSQL, and ``benchmarks/bench_device_list.py`` measures this module.
"""

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection

from core.models import Employee, Group
from core.paging import COUNT_TTL_SECONDS, org_generation_key
from devices.filtersets import DeviceFilterSet
from devices.models import Device

DEVICE = Device._meta.db_table
DEVICE_GROUPS = Device.groups.through._meta.db_table
EMPLOYEE = Employee._meta.db_table
EMPLOYEE_GROUPS = Employee.groups.through._meta.db_table
GROUP = Group._meta.db_table
USER = Device._meta.get_field("responsible_technician").related_model._meta.db_table
USERNAME = Device._meta.get_field("responsible_technician").related_model.USERNAME_FIELD

# ``?ordering=`` values (DeviceFilterSet's OrderingFilter) and the column each sorts on; ``e`` is the assignee.
ORDER_COLUMNS = {
    "name": "d.name", "serial_number": "d.serial_number", "platform": "d.platform",
    "availability_status": "d.availability_status", "assignment_status": "d.assignment_status",
    "enrollment_status": "d.enrollment_status", "assignee": "e.full_name", "last_seen_at": "d.last_seen_at",
    "created_at": "d.created_at", "id": "d.id",
}
DEFAULT_ORDERING = ("-id",)  # Device.Meta.ordering

# Filters that compare one column with the value as it is (choices the form has checked, ids it has resolved).
EQUALS = {
    "availability_status": "d.availability_status", "assignment_status": "d.assignment_status",
    "enrollment_status": "d.enrollment_status", "platform": "d.platform", "assignee": "d.assignee_id",
    "serial_number": "d.serial_number",
}
SPEC_KEYS = (*EQUALS, "enrollment_issue", "assignee_email", "group", "not_seen_in_fleet", "search", "ordering")


def filter_spec(cleaned_data: Mapping) -> dict:
    """A valid DeviceFilterSet form's ``cleaned_data`` as plain values, without the empty ones (which every
    filter passes through): model choices become ids, the serial number is stripped and upper-cased, the search
    stripped, as the FilterSet's methods do. The result can be cached and is what :class:`DeviceListing` takes."""
    spec = {}
    for name in SPEC_KEYS:
        value = cleaned_data.get(name)
        if name in ("assignee", "group") and value is not None:
            value = value.pk
        elif name == "serial_number" and value:
            value = value.strip().upper()
        elif name == "search" and value:
            value = value.strip()
        elif name == "ordering" and value:
            value = [param for param in value if param]
        if value not in (None, "", [], ()):
            spec[name] = value
    return spec


# Query parameters that are not filters.
NOT_FILTERS = frozenset({"page", "page_size", "format"})


def device_filter_spec(data, *, request) -> tuple[dict | None, DeviceFilterSet | None]:
    """The filter spec of a query string (:func:`filter_spec`), and the FilterSet that validated it: ``(None,
    filterset)`` when it is invalid (``filterset.errors`` says why), ``({}, None)`` without any filter parameter
    (each filter passes an empty value through). A valid spec is cached for the organization's data generation:
    it depends on the query string and on the organization's groups and employees only (a group's name, an
    assignee's id), and a write to those starts a new generation (``core.paging``); parameters the FilterSet does
    not know are ignored, as its form ignores them."""
    pairs = sorted((k, v) for k, values in data.lists() if k not in NOT_FILTERS for v in values)
    if not pairs:
        return {}, None
    digest = hashlib.sha256(repr(pairs).encode()).hexdigest()[:32]
    key = org_generation_key(request.organization.pk, f"device-filter-spec:{digest}")
    spec = cache.get(key)
    if spec is not None:
        return spec, None
    filterset = DeviceFilterSet(data, queryset=Device.objects.for_org(request.organization), request=request)
    if not filterset.is_valid():
        return None, filterset
    spec = filter_spec(filterset.form.cleaned_data)
    cache.set(key, spec, COUNT_TTL_SECONDS)
    return spec, filterset


def _like_contains(value: str) -> str:
    """A LIKE pattern that matches ``value`` anywhere (its ``\\``, ``%`` and ``_`` escaped, with ESCAPE '\\')."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(spec: Mapping) -> tuple[list[str], dict, bool]:
    """SQL conditions on ``d`` (the device) and ``e`` (its assignee) for ``spec``, their parameters, and whether
    they need the assignee joined."""
    where, params, joins_assignee = [], {}, False
    for name, column in EQUALS.items():
        if name in spec:
            where.append(f"{column} = %({name})s")
            params[name] = spec[name]
    if "enrollment_issue" in spec:  # the issues are a JSON list: its text holds the quoted code
        where.append("UPPER(CAST(d.enrollment_issues AS TEXT)) LIKE UPPER(%(enrollment_issue)s) ESCAPE '\\'")
        params["enrollment_issue"] = _like_contains(f'"{spec["enrollment_issue"]}"')
    if "assignee_email" in spec:
        where.append("UPPER(e.email) = UPPER(%(assignee_email)s)")
        params["assignee_email"] = spec["assignee_email"]
        joins_assignee = True
    if "group" in spec:
        where.append(f"d.id IN (SELECT dg.device_id FROM {DEVICE_GROUPS} dg WHERE dg.group_id = %(group)s)")
        params["group"] = spec["group"]
    if "not_seen_in_fleet" in spec:
        where.append("d.fleet_missing_since IS NOT NULL" if spec["not_seen_in_fleet"] else
                     "d.fleet_missing_since IS NULL")
    if "search" in spec:
        where.append("(" + " OR ".join(
            f"UPPER({column}) LIKE UPPER(%(search)s) ESCAPE '\\'"
            for column in ("d.serial_number", "d.name", "e.email", "e.full_name")
        ) + ")")
        params["search"] = _like_contains(spec["search"])
        joins_assignee = True
    return where, params, joins_assignee


def _order_terms(ordering) -> list[str]:
    """``ORDER BY`` terms for ``?ordering=`` values, ending with the id (StableOrderingFilter's total order)."""
    terms = []
    for value in ordering or DEFAULT_ORDERING:
        descending = value.startswith("-")
        terms.append(ORDER_COLUMNS[value.lstrip("-")] + (" DESC" if descending else " ASC"))
    if not any(value.lstrip("-") == "id" for value in ordering or DEFAULT_ORDERING):
        terms.append("d.id DESC")
    return terms


# What a row reads: the device's columns, then its assignee's e-mail and name and its technician's login.
API_COLUMNS = (
    "id", "serial_number", "name", "platform", "model", "os_version", "ownership", "usage", "notes",
    "availability_status", "assignment_status", "enrollment_status", "enrollment_issues", "assignee_id",
    "assigned_at", "archived_at", "last_seen_at", "fleet_host_id", "fleet_uuid", "version", "created_at",
    "updated_at", "responsible_technician_id",
)
INVENTORY_COLUMNS = (
    "id", "serial_number", "name", "platform", "usage", "availability_status", "assignment_status",
    "enrollment_status", "last_seen_at", "assignee_id", "responsible_technician_id",
)
RELATED_COLUMNS = ("assignee_email", "assignee_full_name", "technician_username")
TIMESTAMPS = frozenset({"assigned_at", "archived_at", "last_seen_at", "created_at", "updated_at"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DeviceListing:
    """One organization's devices under a filter spec, as Django's ``Paginator`` and DRF's pagination slice
    them: ``count()`` (cached for the organization's data generation, like ``core.paging``'s counts) and
    ``listing[a:b]``, the rows ``rows(records)`` makes of that page's records (dicts of ``columns`` and
    :data:`RELATED_COLUMNS`, with ``group_names``). ``spec=None`` is a list that shows nothing (invalid filters).

    ``owner_groups``: each record also has ``owner_group_names``, the groups its assignee is in that the device
    itself is not (the inventory shows them apart: groups are mostly given to people — by SCIM, the employee form
    or the demo — so a column of the device's own groups alone stayed empty for nearly every device).
    """

    ordered = True  # Paginator's check: the order is total (it ends with the id)

    def __init__(self, *, organization_id: int, spec: Mapping | None, columns, rows: Callable[[list[dict]], list],
                 owner_groups: bool = False):
        self.organization_id, self.spec, self.columns, self.rows = organization_id, spec, columns, rows
        self.owner_groups = owner_groups
        if spec is not None:
            self.where, self.params, joins_assignee = _conditions(spec)
            self.order_by = _order_terms(spec.get("ordering"))
            self.joins_assignee = joins_assignee or any(term.startswith("e.") for term in self.order_by)
            self.params["organization_id"] = organization_id

    def _from(self, *, with_assignee: bool) -> str:
        join = f" LEFT JOIN {EMPLOYEE} e ON e.id = d.assignee_id" if with_assignee else ""
        where = " AND ".join(["d.organization_id = %(organization_id)s", *self.where])
        return f"FROM {DEVICE} d{join} WHERE {where}"

    def count(self) -> int:
        if self.spec is None:
            return 0
        filters = {name: value for name, value in self.spec.items() if name != "ordering"}
        digest = hashlib.sha256(repr(sorted(filters.items())).encode()).hexdigest()[:32]
        key = org_generation_key(self.organization_id, f"device-count:{digest}")
        value = cache.get(key)
        if value is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) {self._from(with_assignee=self.joins_assignee)}", self.params)
                value = cursor.fetchone()[0]
            cache.set(key, value, COUNT_TTL_SECONDS)
        return value

    def __len__(self):
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step is not None or item.stop is None:
            raise TypeError("A device listing is read a page (a bounded slice) at a time.")
        start = item.start or 0
        if self.spec is None or item.stop <= start:
            return []
        return Page(lambda: self.rows(self.records(offset=start, limit=item.stop - start)))

    def matching_ids(self, *, limit: int) -> list[int]:
        """The ids of the rows this listing holds, in its order, at most ``limit`` (a bulk action's selection:
        "all N matching this filter" is exactly what the pages show)."""
        if self.spec is None:
            return []
        statement = (f"SELECT d.id {self._from(with_assignee=self.joins_assignee)} ORDER BY {', '.join(self.order_by)}"
                     " LIMIT %(limit)s")
        with connection.cursor() as cursor:
            cursor.execute(statement, dict(self.params, limit=limit))
            return [row[0] for row in cursor.fetchall()]

    def records(self, *, offset: int, limit: int) -> list[dict]:
        """The page's rows as dicts: ``columns``, :data:`RELATED_COLUMNS` and ``group_names``, in list order."""
        postgresql = connection.vendor == "postgresql"
        order_by = ", ".join(self.order_by)
        ids = (f"SELECT d.id {self._from(with_assignee=self.joins_assignee)} ORDER BY {order_by}"
               " LIMIT %(limit)s OFFSET %(offset)s")
        params = dict(self.params, limit=limit, offset=offset)
        # PostgreSQL: a timestamp comes as its microseconds since the epoch (an exact integer): turned into a datetime
        # here it costs a tenth of the driver's text parsing through Django's time zone loader (most of a page's read).
        selected = [f"(EXTRACT(EPOCH FROM d.{name}) * 1000000)::bigint" if postgresql and name in TIMESTAMPS
                    else f"d.{name}" for name in self.columns] + ["e.email", "e.full_name", f"u.{USERNAME}"]
        names = (*self.columns, *RELATED_COLUMNS, "group_names")
        if postgresql:
            selected.append(
                f"ARRAY(SELECT g.name FROM {DEVICE_GROUPS} dg JOIN {GROUP} g ON g.id = dg.group_id"
                " WHERE dg.device_id = d.id ORDER BY g.name)"
            )
            if self.owner_groups:
                selected.append(
                    f"ARRAY(SELECT g.name FROM {EMPLOYEE_GROUPS} eg JOIN {GROUP} g ON g.id = eg.group_id"
                    f" WHERE eg.employee_id = d.assignee_id AND g.id NOT IN (SELECT dg.group_id FROM {DEVICE_GROUPS}"
                    " dg WHERE dg.device_id = d.id) ORDER BY g.name)"
                )
                names = (*names, "owner_group_names")
        statement = (
            f"SELECT {', '.join(selected)} FROM {DEVICE} d"
            f" LEFT JOIN {EMPLOYEE} e ON e.id = d.assignee_id"
            f" LEFT JOIN {USER} u ON u.id = d.responsible_technician_id"
            f" WHERE d.organization_id = %(organization_id)s AND d.id IN ({ids}) ORDER BY {order_by}"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            records = [dict(zip(names, values, strict=False)) for values in cursor.fetchall()]
        if postgresql:
            timestamps = [name for name in self.columns if name in TIMESTAMPS]
            for record in records:
                for name in timestamps:
                    if record[name] is not None:
                        record[name] = EPOCH + timedelta(microseconds=record[name])
        else:
            _read_group_names(records, owner_groups=self.owner_groups)
        return records


class Page(Sequence):
    """A page's rows, read when first used: a page whose rendering comes from a cache never reads them."""

    def __init__(self, read: Callable[[], list]):
        self._read, self._rows = read, None

    @property
    def rows(self) -> list:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def __getitem__(self, index):
        return self.rows[index]

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)


def _read_group_names(records: list[dict], *, owner_groups: bool = False) -> None:
    """Each record's ``group_names`` (and ``owner_group_names``) from one statement for the page (where there are
    no arrays): the device's own groups, then its assignee's, in one list ordered by name."""
    by_id = {record["id"]: record for record in records}
    for record in records:
        record["group_names"] = []
        if owner_groups:
            record["owner_group_names"] = []
    if not by_id:
        return
    placeholders = ", ".join(f"%(id_{index})s" for index in range(len(by_id)))
    params = {f"id_{index}": pk for index, pk in enumerate(by_id)}
    statement = (f"SELECT dg.device_id, g.name, 0 FROM {DEVICE_GROUPS} dg JOIN {GROUP} g ON g.id = dg.group_id"
                 f" WHERE dg.device_id IN ({placeholders})")
    if owner_groups:
        statement += (f" UNION ALL SELECT d.id, g.name, 1 FROM {DEVICE} d JOIN {EMPLOYEE_GROUPS} eg"
                      f" ON eg.employee_id = d.assignee_id JOIN {GROUP} g ON g.id = eg.group_id"
                      f" WHERE d.id IN ({placeholders})")
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} ORDER BY 2, 3", params)
        for device_id, name, through_owner in cursor.fetchall():
            record = by_id[device_id]
            if not through_owner:
                record["group_names"].append(name)
            elif name not in record["group_names"]:
                record["owner_group_names"].append(name)


# --- values as the database gives them -----------------------------------------------------------------------


def aware(value):
    """A timestamp column as an aware datetime: PostgreSQL's driver gives one; SQLite a naive UTC one, or text."""
    if value is None or value.__class__ is not str and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def json_list(value) -> list:
    """A JSON column: decoded by the driver, or its text."""
    return json.loads(value) if isinstance(value, str | bytes) else value


# --- rows ------------------------------------------------------------------------------------------------------


def _is_utc(zone) -> bool:
    return zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


def _iso(value, zone) -> str | None:
    """DRF's ``DateTimeField`` output: ISO 8601 in the current time zone, UTC written ``Z``. ``zone=None``: the
    current time zone is UTC, so a value in UTC is written as it is."""
    if value is None:
        return None
    if value.__class__ is str or value.tzinfo is None:
        value = aware(value)
    if zone is not None or value.tzinfo is not UTC:
        value = value.astimezone(zone or UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def api_rows(records: list[dict]) -> list[dict]:
    """The API's device rows (``DeviceSerializer``'s fields, in its order) from :meth:`DeviceListing.records`."""
    from django.utils import timezone

    zone = timezone.get_current_timezone()
    if _is_utc(zone):
        zone = None
    rows = []
    for record in records:
        assignee_id = record["assignee_id"]
        rows.append({
            "id": record["id"],
            "serial_number": record["serial_number"],
            "name": record["name"],
            "platform": record["platform"],
            "model": record["model"],
            "os_version": record["os_version"],
            "ownership": record["ownership"],
            "usage": record["usage"],
            "notes": record["notes"],
            "availability_status": record["availability_status"],
            "assignment_status": record["assignment_status"],
            "enrollment_status": record["enrollment_status"],
            "enrollment_issues": json_list(record["enrollment_issues"]),
            "assignee": None if assignee_id is None else {
                "id": assignee_id, "email": record["assignee_email"],
                "name": record["assignee_full_name"] or record["assignee_email"],  # Employee.display_name
            },
            "assigned_at": _iso(record["assigned_at"], zone),
            "archived_at": _iso(record["archived_at"], zone),
            "groups": record["group_names"],
            "responsible_technician": record["technician_username"],
            "last_seen_at": _iso(record["last_seen_at"], zone),
            "fleet_host_id": record["fleet_host_id"],
            "fleet_uuid": record["fleet_uuid"],
            "version": record["version"],
            "created_at": _iso(record["created_at"], zone),
            "updated_at": _iso(record["updated_at"], zone),
        })
    return rows


def _labels(field_name: str) -> dict:
    return dict(Device._meta.get_field(field_name).flatchoices)


class Row(dict):
    """A row: a dict (what templates read fastest) that also answers ``row.pk``."""

    @property
    def pk(self):
        return self["id"]


def inventory_rows(records: list[dict]) -> list[Row]:
    """What ``devices/_device_rows.html`` shows of each device, from :meth:`DeviceListing.records`."""
    labels = {name: _labels(name) for name in ("platform", "availability_status", "assignment_status",
                                               "enrollment_status")}
    rows = []
    for record in records:
        assignee_id = record["assignee_id"]
        rows.append(Row({
            "id": record["id"],
            "name": record["name"],
            "serial_number": record["serial_number"],
            "platform": labels["platform"].get(record["platform"], record["platform"]),
            "availability_status": record["availability_status"],
            "availability_label": labels["availability_status"].get(record["availability_status"]),
            "assignment_status": record["assignment_status"],
            "assignment_label": labels["assignment_status"].get(record["assignment_status"]),
            "enrollment_status": record["enrollment_status"],
            "enrollment_label": labels["enrollment_status"].get(record["enrollment_status"]),
            "assignee_id": assignee_id,
            "assignee_name": (record["assignee_full_name"] or record["assignee_email"]) if assignee_id else None,
            "shared": record["usage"] == "shared",
            "technician": record["technician_username"],
            "group_names": record["group_names"],
            "owner_group_names": record.get("owner_group_names", ()),
            "last_seen_at": aware(record["last_seen_at"]),
        }))
    return rows
