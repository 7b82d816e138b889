"""What every benchmark needs to set up its own PostgreSQL database (each drops and recreates one)."""

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
# Never dropped by a benchmark: the server's own databases and the project's real and test ones.
PROTECTED_DATABASES = {"", "postgres", "template0", "template1", "cockpit", "test_cockpit"}


def benchmark_database_url(dbname: str, explicit: str | None = None) -> str:
    """``explicit`` as given, or database ``dbname`` on ``DATABASE_URL``'s server (the default server if unset)."""
    if explicit:
        return explicit
    server = os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL
    return urlunsplit(urlsplit(server)._replace(path=f"/{dbname}", query="", fragment=""))


def recreate_database(database_url: str) -> str:
    """Drop and create the database ``database_url`` names; refuses the protected ones. Returns the URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    dbname = parts.path.lstrip("/")
    if dbname in PROTECTED_DATABASES:
        raise SystemExit(f"Refusing to use database {dbname!r}: the benchmark drops and recreates its database.")
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as exc:
        raise SystemExit(f"Could not recreate database {dbname!r}: {exc}".strip()) from exc
    return database_url
