"""Data-migration tests: move the schema to a set of migrations, then back to the newest of everything.

``migrate``/``migrate_to_newest`` move the test database itself (backwards through every migration that depends on
the target, then forwards again: ~10 s of CPU on PostgreSQL when the target is an early migration of ``cockpit``).
A test that only needs the old state and the new one can run them in ``scratch_database()`` instead (the
``scratch_database`` fixture): an empty database stands in for the test database, the migrations move it forwards
only, and only as far as the targets' own dependencies, and it is dropped afterwards."""

import re
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate to ``targets`` (``[(app, migration), …]``) and return the historical apps of the database at that state
    (the migrator's own state, already rendered when it went forwards, rather than rendering it a second time)."""
    return MigrationExecutor(connection).migrate(targets).apps


def table_constraints(table: str) -> dict[str, dict]:
    """What the database has on ``table`` now (Django's introspection): each constraint and index by name."""
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def table_indexes(table: str) -> dict[str, tuple]:
    """``table``'s indexes now, but its primary key: the indexed columns by index name."""
    return {name: tuple(c["columns"]) for name, c in table_constraints(table).items()
            if c["index"] and not c["primary_key"]}


def assert_served_by(queryset, indexes) -> None:
    """PostgreSQL's plan for ``queryset`` (its ids only) reads one or more of ``indexes`` and nothing else: no
    sequential scan, no other index. For a migration that drops or narrows an index, the look-ups it served."""
    plan = queryset.order_by().only("pk").explain()
    read = set(re.findall(r"(?:Scan using|Bitmap Index Scan on) (\w+)", plan))
    assert "Seq Scan" not in plan and read and read <= set(indexes), plan


def migrate_to_newest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@contextmanager
def scratch_database():
    """An empty database as the default connection for the block (outside any transaction: the migrations commit),
    in place of the test database, which is left as it was (and need not exist). PostgreSQL: the test database's
    name + ``_scratch``, created and dropped here through the ``postgres`` database; SQLite: a private in-memory
    database."""
    test_connection = connections[DEFAULT_DB_ALIAS]
    settings_dict = dict(test_connection.settings_dict)
    postgresql = test_connection.vendor == "postgresql"
    if postgresql:
        test_name = settings_dict.get("TEST", {}).get("NAME") or f"test_{settings_dict['NAME']}"
        settings_dict["NAME"] = name = f"{test_name}_scratch"
        quoted = test_connection.ops.quote_name(name)
        _maintenance(test_connection, f"DROP DATABASE IF EXISTS {quoted}", f"CREATE DATABASE {quoted}")
    else:
        settings_dict["NAME"] = ":memory:"
    scratch = test_connection.__class__(settings_dict, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = scratch
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = test_connection
        if scratch.connection is not None:
            scratch.connection.close()  # SQLite's wrapper keeps an in-memory database open on close()
            scratch.connection = None
        if postgresql:
            _maintenance(test_connection, f"DROP DATABASE {quoted}")


def _maintenance(test_connection, *statements) -> None:
    """Statements run in autocommit on PostgreSQL's ``postgres`` database (CREATE and DROP DATABASE cannot run
    inside a transaction, nor connected to the database they drop)."""
    maintenance = test_connection.__class__({**test_connection.settings_dict, "NAME": "postgres"}, "maintenance")
    try:
        with maintenance.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        maintenance.close()
