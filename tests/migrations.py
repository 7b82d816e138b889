"""Data-migration tests: move the schema to a set of migrations, then back to the newest of everything."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate to ``targets`` (``[(app, migration), …]``) and return the historical apps at that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_newest() -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
