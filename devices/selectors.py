"""Reads of devices that the API, the cockpit and the jobs share."""

from collections import Counter
from datetime import UTC, datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, OuterRef, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from core.models import Employee
from devices import rules
from devices.models import Device, DeviceCommand, DeviceHistory


def device_queryset(*, organization):
    """The organization's devices with their assignee; group names come per page (:func:`with_group_names`)."""
    return Device.objects.for_org(organization).select_related("assignee", "responsible_technician")


def with_group_names(devices) -> list[Device]:
    """Sets ``group_names`` on each device from one query for the whole page (devices that have them
    already, from :func:`device_page_rows`, are left as they are).

    A ``prefetch_related("groups")`` builds a Group object per link; a list row needs only the names,
    and the tuples cost a fraction of it (measured in benchmarks/).
    """
    devices = list(devices)
    names: dict[int, list[str]] = {device.pk: [] for device in devices if not hasattr(device, "group_names")}
    if names:
        links = (
            Device.groups.through.objects.filter(device_id__in=names)
            .order_by("group__name")
            .values_list("device_id", "group__name")
        )
        for device_id, group_name in links:
            names[device_id].append(group_name)
    for device in devices:
        if device.pk in names:
            device.group_names = names[device.pk]
    return devices


# What a list row shows (the API's DeviceSerializer, the cockpit's inventory row), and nothing else: the
# Fleet facts and the other timestamps of a device cost a third of a page's decoding (benchmarks/).
ROW_COLUMNS = (
    "id", "organization_id", "serial_number", "name", "platform", "model", "os_version", "ownership", "usage",
    "notes", "availability_status", "assignment_status", "enrollment_status", "enrollment_issues", "assigned_at",
    "archived_at", "last_seen_at", "fleet_host_id", "fleet_uuid", "version", "created_at", "updated_at",
    "assignee_id", "responsible_technician_id",
)
USERNAME_FIELD = get_user_model().USERNAME_FIELD


class ListedEmployee:
    """A row's assignee: its id, e-mail and name (``Employee.display_name``, the model's own property)."""

    __slots__ = ("pk", "email", "full_name")
    display_name = Employee.display_name

    def __init__(self, pk, email, full_name):
        self.pk, self.email, self.full_name = pk, email, full_name

    @property
    def id(self):
        return self.pk


class ListedUser:
    """A row's responsible technician: its login."""

    __slots__ = ("pk", "username")

    def __init__(self, pk, username):
        self.pk, self.username = pk, username

    def get_username(self) -> str:
        return self.username


class DeviceRow:
    """A device as a list page shows it: :data:`ROW_COLUMNS` read as values, its assignee and technician.

    A page of model instances cost a third of the page's time in ``Model.__init__`` (benchmarks/); the API's
    row and the cockpit's read the same attributes from this (tests hold both outputs equal to those of
    model instances). Anything else about a device comes from the device page's own read."""

    __slots__ = (*ROW_COLUMNS, "assignee", "responsible_technician", "group_names")
    is_archived = Device.is_archived
    __str__ = Device.__str__

    @property
    def pk(self):
        return self.id

    def __repr__(self):
        return f"<DeviceRow {self.id}>"


def _device_rows(values, names):
    columns = len(names)
    for value in values:
        row = DeviceRow()
        for name, item in zip(names, value[:columns], strict=True):
            setattr(row, name, item)
        email, full_name, username = value[columns:columns + 3]
        row.assignee = ListedEmployee(row.assignee_id, email, full_name) if row.assignee_id else None
        row.responsible_technician = (
            ListedUser(row.responsible_technician_id, username) if row.responsible_technician_id else None
        )
        if len(value) > columns + 3:
            row.group_names = value[columns + 3]
        yield row


# What the cockpit's inventory row shows (devices.views.device_rows_html): the other columns of ROW_COLUMNS,
# the JSON issues and four timestamps among them, are neither read nor decoded for it.
INVENTORY_COLUMNS = (
    "id", "serial_number", "name", "platform", "usage", "availability_status", "assignment_status",
    "enrollment_status", "last_seen_at", "assignee_id", "responsible_technician_id",
)
TIMESTAMP_COLUMNS = frozenset({"assigned_at", "archived_at", "last_seen_at", "created_at", "updated_at"})


def utc_iso(text):
    """PostgreSQL's text of a timestamp in ISO DateStyle and UTC (``2026-11-21 13:14:28.38+00``) as the API
    writes it: ``datetime.isoformat()`` with ``Z`` (``2026-11-21T13:14:28.380000Z``), the microseconds only
    when there are some. None stays None."""
    if text is None:
        return None
    if text[-3:] != "+00" or len(text) < 22:  # not the text utc_text_timestamps() vouched for: parse it
        value = datetime.fromisoformat(text).astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")
    body = text[:-3]
    if len(body) > 19:
        body = body.ljust(26, "0")  # PostgreSQL drops the fraction's trailing zeros, isoformat() writes six digits
    return f"{body[:10]}T{body[11:]}Z"


def utc_text_timestamps() -> bool:
    """True when the API's timestamps can be read as text (:func:`utc_iso`): PostgreSQL writing them in ISO
    DateStyle and UTC (Django's session time zone), the current time zone UTC (the project's)."""
    if connection.vendor != "postgresql" or getattr(timezone.get_current_timezone(), "key", None) != "UTC":
        return False
    connection.ensure_connection()
    info = connection.connection.info
    return (info.parameter_status("TimeZone") or "") == "UTC" and (info.parameter_status("DateStyle") or "").startswith(
        "ISO"
    )


def _page_values(queryset, names, utc_text_timestamps):
    """The page statement's ``values_list``: ``names``, the timestamps maybe as text, the assignee's e-mail and
    name, the technician's login and, on PostgreSQL, the group names."""
    selected = list(names)
    if utc_text_timestamps:
        texts = {f"{name}_utc_text": Cast(name, TextField()) for name in names if name in TIMESTAMP_COLUMNS}
        queryset = queryset.annotate(**texts)
        selected = [f"{name}_utc_text" if name in TIMESTAMP_COLUMNS else name for name in names]
    selected += ["assignee__email", "assignee__full_name", f"responsible_technician__{USERNAME_FIELD}"]
    if connection.vendor == "postgresql":
        queryset = queryset.annotate(group_names=_group_names())
        selected.append("group_names")
    return queryset.values_list(*selected)


@cache
def _group_names():
    """Each device's group names as an ``ARRAY(SELECT …)`` column (built once; ``annotate`` resolves a copy)."""
    from django.contrib.postgres.expressions import ArraySubquery

    names = Device.groups.through.objects.filter(device_id=OuterRef("pk")).order_by("group__name")
    return ArraySubquery(names.values("group__name"))


def device_page_rows(queryset, *, columns=ROW_COLUMNS, utc_text_timestamps=False):
    """A list page's statement: :class:`DeviceRow` values of ``columns``, and on PostgreSQL each device's group
    names in it (an ``ARRAY(SELECT …)`` column), so the page costs one round trip instead of two; elsewhere
    :func:`with_group_names` reads them. ``utc_text_timestamps`` (see :func:`utc_text_timestamps`): the
    timestamps come as the API's UTC text (:func:`utc_iso`), not parsed into datetimes to be formatted again."""
    names = list(columns)
    rows = _device_rows(_page_values(queryset, names, utc_text_timestamps), names)
    return _with_iso_text(rows, names) if utc_text_timestamps else rows


# --- Page statements compiled once per shape ------------------------------------------------------------------
#
# A page's statement is ``SELECT <row columns> FROM device … WHERE organization_id = %s AND id IN (<the page's
# ids: the filtered, ordered, sliced list>) ORDER BY <the list's ordering>``. Everything outside the
# parentheses depends only on the row's columns and the ordering, never on the filters, so Django compiles it
# once per such shape (``sql_with_params()``) with a placeholder where the ids go; a request compiles only its
# ids' query (``sql_with_params()`` too) and puts it in. The organization stays a bound parameter in both.

PAGE_IDS_MARKER = "SELECT 'devices.selectors: the page ids go here'"
_PAGE_STATEMENTS: dict = {}
_PAGE_STATEMENTS_MAX = 256  # shapes are few (row kinds x orderings); a bound all the same


class _PageStatement:
    __slots__ = ("before", "after", "converters", "names", "utc_text_timestamps")

    def __init__(self, before, after, converters, names, utc_text_timestamps):
        self.before, self.after, self.converters = before, after, converters
        self.names, self.utc_text_timestamps = names, utc_text_timestamps


def _value_field(name):
    """The model field a selected column is read as (``a__b`` follows the relation), or None for text."""
    model, field = Device, None
    for part in name.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model or model
    return field


def _page_statement(columns, utc_text_timestamps, order_by, default_ordering, organization_id):
    key = (connection.alias, tuple(columns), utc_text_timestamps, tuple(order_by), default_ordering)
    if key in _PAGE_STATEMENTS:
        return _PAGE_STATEMENTS[key]
    outer = device_queryset(organization=organization_id).filter(pk__in=RawSQL(PAGE_IDS_MARKER, ()))
    if order_by:
        outer = outer.order_by(*order_by)
    if not default_ordering:
        outer.query.default_ordering = False
    names = list(columns)
    sql, params = _page_values(outer, names, utc_text_timestamps).query.sql_with_params()
    statement = None
    marker = f"({PAGE_IDS_MARKER})"
    # Only the shape this was written for: one parameter (the organization), before the ids, one marker.
    if list(params) == [organization_id] and sql.count(marker) == 1 and sql.count("%s") == 1:
        before, after = sql.split(marker)
        if "%s" in before:
            converters = []
            for index, name in enumerate(names):
                if not (utc_text_timestamps and name in TIMESTAMP_COLUMNS):
                    converters += [(index, convert) for convert in _value_field(name).get_db_converters(connection)]
            statement = _PageStatement(before, after, converters, names, utc_text_timestamps)
    if len(_PAGE_STATEMENTS) < _PAGE_STATEMENTS_MAX:
        _PAGE_STATEMENTS[key] = statement
    return statement


def device_page_fetcher(*, organization_id, columns=ROW_COLUMNS, utc_text_timestamps=False):
    """``fetch_page(queryset, ids)`` for :class:`core.paging.PagedQuerySet`: the rows of the page whose
    ids ``ids`` selects, as :func:`device_page_rows` reads them, through a statement compiled once per shape
    (PostgreSQL). Returns None when this list is not of that shape (the caller takes the plain way)."""

    def fetch_page(queryset, ids):
        query = queryset.query
        if (
            connection.vendor != "postgresql" or query.distinct or query.extra_order_by or not query.standard_ordering
            or not all(isinstance(field, str) for field in query.order_by) or queryset.db != connection.alias
        ):
            return None
        statement = _page_statement(columns, utc_text_timestamps, query.order_by, query.default_ordering,
                                    organization_id)
        if statement is None:
            return None
        ids_sql, ids_params = ids.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"{statement.before}({ids_sql}){statement.after}", (organization_id, *ids_params))
            values = cursor.fetchall()
        if statement.converters:
            values = [list(value) for value in values]
            for value in values:
                for index, convert in statement.converters:
                    value[index] = convert(value[index], None, connection)
        rows = _device_rows(values, statement.names)
        return list(_with_iso_text(rows, statement.names) if statement.utc_text_timestamps else rows)

    return fetch_page


def _with_iso_text(rows, names):
    names = [name for name in names if name in TIMESTAMP_COLUMNS]
    for row in rows:
        for name in names:
            setattr(row, name, utc_iso(getattr(row, name)))
        yield row


def inventory_page_rows(queryset):
    """The cockpit inventory's page: :data:`INVENTORY_COLUMNS` only."""
    return device_page_rows(queryset, columns=INVENTORY_COLUMNS)


def inventory_page_fetcher(*, organization_id):
    return device_page_fetcher(organization_id=organization_id, columns=INVENTORY_COLUMNS)


def api_page_fetcher(*, organization_id):
    return device_page_fetcher(organization_id=organization_id, utc_text_timestamps=utc_text_timestamps())


def api_page_rows(queryset):
    """The API's page: every column of a row, the timestamps as the API's text when PostgreSQL can write them
    exactly (:func:`utc_text_timestamps`)."""
    return device_page_rows(queryset, utc_text_timestamps=utc_text_timestamps())


def device_history(*, device: Device):
    return DeviceHistory.objects.for_org(device.organization).filter(device=device).select_related(
        "assignee_before", "assignee_after"
    )


def device_status_counts(*, organization) -> dict[str, Counter]:
    """Counts per availability, assignment, enrollment status and platform, from one grouped query."""
    rows = (
        Device.objects.for_org(organization)
        .values_list("availability_status", "assignment_status", "enrollment_status", "platform")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {"availability": Counter(), "assignment": Counter(), "enrollment": Counter(), "platform": Counter()}
    for availability, assignment, enrollment, platform, n in rows:
        counts["availability"][availability] += n
        if assignment:
            counts["assignment"][f"{availability}:{assignment}"] += n
        if availability != "archived":
            counts["enrollment"][enrollment] += n
            counts["platform"][platform] += n
    counts["total"] = sum(counts["availability"].values())
    counts["not_seen_in_fleet"] = (
        Device.objects.for_org(organization).filter(fleet_missing_since__isnull=False).exclude(
            availability_status="archived").count()
    )
    return counts


def device_commands(*, device: Device, limit: int = 5) -> list[DeviceCommand]:
    """The device's latest wipes and removals from Fleet, newest first (the device page's panel)."""
    return list(
        DeviceCommand.objects.for_org(device.organization).filter(device=device)
        .select_related("hand_over_to").order_by("-pk")[:limit]
    )


def latest_commands(*, device: Device) -> dict[str, DeviceCommand | None]:
    """The newest command of each kind, ``{"wipe": …, "remove": …}`` (the API's ``wipe`` and ``fleet_removal``)."""
    latest: dict[str, DeviceCommand | None] = dict.fromkeys(DeviceCommand.Kind.values)
    for command in device_commands(device=device, limit=20):
        latest[command.kind] = latest[command.kind] or command
    return latest


def assignment_warnings(*, organization, employee: Employee) -> list[dict]:
    """What a person giving ``employee`` a device should know first: today, that they are leaving."""
    return rules.leaving_warnings_for(organization=organization, employee=employee)
