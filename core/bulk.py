"""Bulk writes at ``COPY`` speed: many rows inserted or updated in a few statements, on any database.

On PostgreSQL rows go through ``COPY`` (about ten times Django's bulk methods: no model instances, no SQL text
per value): inserts straight into the table, updates into a temporary staging table and then one set-based
``UPDATE … FROM``. Elsewhere (SQLite, the embedded default) the same calls fall back to the ORM's ``bulk_create``
and ``bulk_update``, so a service runs the same code on both databases and writes the same rows.

Two shapes of input:

* plain rows, the fast path for work that grows with a file: :func:`insert_rows` takes the names of the fields it
  sets and one tuple of values per row (Python values, as the model holds them: JSON as dicts and lists, foreign
  keys by id); :func:`update_rows` takes ``(pk, *values)`` tuples;
* model instances, for callers that already hold them: :func:`staged_update`.

Fields an insert leaves out get what ``Model.save`` would give them: the time for ``auto_now``/``auto_now_add``,
the field's default otherwise, the database's own for a ``db_default``. Like the ORM's bulk methods, nothing
sends model signals; like ``TenantQuerySet``'s, a write to a model whose organization's cached counts are tracked
(``core.paging``) starts a new generation of them. Ids, when asked for, come from the table's sequence in one
statement before the ``COPY``, so the caller knows them without reading the rows back.

The cursor-level helpers (:func:`copy_rows`, :func:`db_value`) are for PostgreSQL code that manages its own staging
(the sync's writer).
"""

import json
from collections.abc import Iterable, Sequence
from itertools import chain, islice
from operator import attrgetter

import msgspec
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED, BooleanField, F, Func
from django.utils import timezone

from core.paging import GENERATION_MODELS, org_data_changed

STAGE_TABLE = "core_bulk_stage"
FALLBACK_BATCH = 1000


def uses_copy() -> bool:
    """Whether this database takes the ``COPY`` path (PostgreSQL); otherwise the ORM's bulk methods run."""
    return connection.vendor == "postgresql"


_encode_json = msgspec.json.Encoder().encode
_NOT_ENCODED = (TypeError, ValueError, OverflowError, msgspec.EncodeError)


def json_text(value, encoder=None) -> str:
    """A ``JSONField`` value as the text the database is given, as the field gives it (``json.dumps`` with its
    encoder) but, for a field without an encoder of its own, written by msgspec: about ten times faster for the
    plain values these fields hold (dicts, lists, strings, numbers, booleans, None), the same JSON in a compact
    form with non-ASCII characters as UTF-8, which PostgreSQL's ``jsonb`` and SQLite's JSON functions read as the
    same value. (msgspec also writes dates, UUIDs and decimals, which ``json.dumps`` refuses; a float NaN becomes
    null.) What msgspec cannot write (a dict keyed by booleans or None) goes to ``json.dumps``, as the ORM does."""
    if encoder is None:
        try:
            return _encode_json(value).decode()
        except _NOT_ENCODED:
            pass
    return json.dumps(value, cls=encoder)


# --- PostgreSQL, cursor level ------------------------------------------------------------------------------------


def db_value(field, value):
    """A model value as ``COPY`` takes it: JSON as text, the rest as psycopg adapts it."""
    if value is not None and field.get_internal_type() == "JSONField":
        return json_text(value, field.encoder)
    return value


def copy_rows(cursor, table: str, columns: list[str], rows: Iterable[Sequence]) -> None:
    """``COPY`` rows into ``table`` (quoted ``columns``); a database error is raised as Django raises it
    (``IntegrityError`` for a broken constraint), as for any other statement."""
    with connection.wrap_database_errors, cursor.cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def next_ids(model, count: int) -> list[int]:
    """``count`` new ids from the table's sequence, in one statement (PostgreSQL). The sequence is looked up once,
    not for each id (a function call in the select list runs a row: 20,000 ids took 55 ms that way, 10 ms so)."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
                       "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
                       [model._meta.db_table, model._meta.pk.column, count])
        return [pk for (pk,) in cursor.fetchall()]


# --- any database --------------------------------------------------------------------------------------------------


class AnyOf(Func):
    """``field = ANY(values)``: many values as one parameter, for ``.filter(AnyOf("field", values))``. One statement
    whatever their number, without a placeholder per value to send and parse nor chunks to stay under a limit; on
    PostgreSQL an array the planner checks rows against with a hash, whatever its statistics say (a fresh table's
    are often wrong in the transaction that filled it)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, expression, values: Iterable):
        super().__init__(F(expression) if isinstance(expression, str) else expression)
        self.values = list(values)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{sql} = ANY(%s)", [*params, self.values]
        return f"{sql} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence], *, returning_ids: bool = False) -> list[int]:
    """Insert one row per tuple of ``rows``, its values in the order of ``fields`` (field names or attnames).

    Returns the new ids in row order when ``returning_ids`` (``rows`` must then be a sequence), else ``[]``.
    """
    given = [model._meta.get_field(name) for name in fields]
    if returning_ids and any(field.primary_key for field in given):
        raise ValueError("insert_rows(returning_ids=True) takes the ids from the sequence: do not pass them.")
    rows = list(rows) if returning_ids and not isinstance(rows, Sequence) else rows
    rows = _nonempty(rows)
    if rows is None:
        return []
    if not uses_copy() and returning_ids:
        return _orm_insert(model, given, rows, returning_ids=returning_ids)
    now = timezone.now()
    filled = [field for field in model._meta.concrete_fields
              if field not in given and not field.primary_key and field.db_default is NOT_PROVIDED]
    if not uses_copy():
        return _executemany_insert(model, given, filled, now, rows)
    constants = [now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
                 else db_value(field, field.get_default()) for field in filled]
    jsons = [i for i, field in enumerate(given) if field.get_internal_type() == "JSONField"]
    organizations = _tracked_organizations(model, given)

    def prepared(values) -> list:
        out = list(values)
        for i in jsons:
            if out[i] is not None:
                out[i] = json_text(out[i], given[i].encoder)
        if organizations is not None:
            organizations.add(out[organizations.index])
        return out + constants

    columns = [*given, *filled]
    ids: list[int] = []
    if returning_ids:
        ids = next_ids(model, len(rows))
        source = ([pk, *prepared(row)] for pk, row in zip(ids, rows, strict=True))
        columns = [model._meta.pk, *columns]
    else:
        source = (prepared(row) for row in rows)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        copy_rows(cursor, quote(model._meta.db_table), [quote(field.column) for field in columns], source)
    if organizations is not None:
        for organization_id in organizations:
            org_data_changed(organization_id)
    return ids


def update_rows(model, fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Set ``fields`` of many rows, each given as ``(pk, *values)``, values in the order of ``fields`` and taken as
    they are (no ``auto_now``: pass the time). Returns how many rows were updated."""
    given = [model._meta.get_field(name) for name in fields]
    rows = _nonempty(rows)
    if rows is None:
        return 0
    if not uses_copy():
        instances = [model(pk=row[0], **{field.attname: value for field, value in zip(given, row[1:], strict=True)})
                     for row in rows]
        return model._default_manager.bulk_update(instances, [field.name for field in given],
                                                  batch_size=FALLBACK_BATCH) if instances else 0
    jsons = [i + 1 for i, field in enumerate(given) if field.get_internal_type() == "JSONField"]

    def prepared(row) -> Sequence:
        if jsons:
            row = list(row)
            for i in jsons:
                if row[i] is not None:
                    row[i] = json_text(row[i], given[i - 1].encoder)
        return row

    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    columns = [quote(field.column) for field in given]
    assignments = ", ".join(f"{column} = s.{column}" for column in columns)
    update = f"UPDATE {table} AS t SET {assignments} FROM {STAGE_TABLE} AS s WHERE t.{pk} = s.{pk}"
    tracked = model._meta.label_lower in GENERATION_MODELS
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # ON COMMIT DROP: gone with the transaction even if the DROP below never runs (an error in between).
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE_TABLE} ON COMMIT DROP AS SELECT {pk}, {', '.join(columns)} "
                       f"FROM {table} WITH NO DATA")
        copy_rows(cursor, STAGE_TABLE, [pk, *columns], (prepared(row) for row in rows))
        if tracked:  # which organizations' cached counts the update made stale, as TenantQuerySet.update tells
            cursor.execute(f"WITH u AS ({update} RETURNING t.organization_id) "
                           "SELECT organization_id, count(*) FROM u GROUP BY organization_id")
            touched = dict(cursor.fetchall())
        else:
            cursor.execute(update)
            touched = {None: cursor.rowcount}
        cursor.execute(f"DROP TABLE {STAGE_TABLE}")
    _changed(model, set(touched))
    return sum(touched.values())


def staged_update(model, objects: list, fields: Sequence[str]) -> int:
    """``bulk_update`` at ``COPY`` speed: ``fields`` of each instance, written as they are."""
    if not objects:
        return 0
    if not uses_copy():
        return model._default_manager.bulk_update(objects, fields, batch_size=FALLBACK_BATCH)
    values = attrgetter("pk", *(model._meta.get_field(name).attname for name in fields))
    return update_rows(model, fields, (values(obj) for obj in objects))


# --- helpers -------------------------------------------------------------------------------------------------------


class _Organizations(set):
    """The organizations a write touched, read from one column of its rows."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index


def _tracked_organizations(model, given: list) -> _Organizations | None:
    if model._meta.label_lower not in GENERATION_MODELS:
        return None
    for i, field in enumerate(given):
        if field.name == "organization":
            return _Organizations(i)
    return None


def _changed(model, organization_ids: set) -> None:
    if model._meta.label_lower in GENERATION_MODELS:
        for organization_id in organization_ids - {None}:
            org_data_changed(organization_id)


def _nonempty(rows: Iterable) -> Iterable | None:
    """``rows`` as an iterable, or None when there are none (nothing to write, no statement)."""
    if isinstance(rows, Sequence):
        return rows or None
    iterator = iter(rows)
    first = next(iterator, _END)
    return None if first is _END else chain([first], iterator)


_END = object()


def _executemany_insert(model, given: list, filled: list, now, rows: Iterable[Sequence]) -> list[int]:
    """Elsewhere than PostgreSQL, rows whose ids nobody asks for: one ``INSERT`` run for every row (``executemany``),
    each value prepared by its field as the ORM prepares it, without building a model instance per row."""
    columns = [*given, *filled]
    constants = [field.get_db_prep_save(now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add",
                                                                                           False)
                                        else field.get_default(), connection) for field in filled]
    organizations = _tracked_organizations(model, given)
    quote = connection.ops.quote_name

    preparers = [_preparer(field) for field in given]

    def prepared(values) -> list:
        if organizations is not None:
            organizations.add(values[organizations.index])
        return [prepare(value) for prepare, value in zip(preparers, values, strict=True)] + constants

    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    iterator = iter(rows)
    with connection.cursor() as cursor:
        while batch := [prepared(row) for row in islice(iterator, FALLBACK_BATCH)]:
            cursor.executemany(sql, batch)
    if organizations is not None:
        for organization_id in organizations:
            org_data_changed(organization_id)
    return []


_NATIVE = (int, str, float, bool, type(None))


def _preparer(field):
    """A field's value as the database driver takes it: JSON as text, plain values as they are (the driver adapts
    them), the rest (dates, decimals…) as the field prepares it for the database."""
    if field.get_internal_type() == "JSONField":
        return lambda value: None if value is None else json_text(value, field.encoder)
    return lambda value: value if type(value) in _NATIVE else field.get_db_prep_save(value, connection)


def _orm_insert(model, given: list, rows: Iterable[Sequence], *, returning_ids: bool) -> list[int]:
    attnames = [field.attname for field in given]
    objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    if not objects:
        return []
    model._default_manager.bulk_create(objects, batch_size=FALLBACK_BATCH)
    if returning_ids and any(obj.pk is None for obj in objects):
        raise NotImplementedError("This database returns no ids from a bulk insert.")
    return [obj.pk for obj in objects] if returning_ids else []
