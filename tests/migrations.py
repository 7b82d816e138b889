"""Data-migration tests: move the schema to a set of migrations, then back to the newest of everything."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate to ``targets`` (``[(app, migration), …]``) and return the historical apps of the database at that state
    (the migrator's own state, already rendered when it went forwards, rather than rendering it a second time)."""
    return MigrationExecutor(connection).migrate(targets).apps


def migrate_to_newest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
