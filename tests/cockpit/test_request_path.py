"""What every signed-in cockpit page costs before its view runs: the session, the user, the memberships."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import PASSWORD, member


def _tables(queries):
    sqls = [q["sql"] for q in queries.captured_queries]
    return [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in sqls if " FROM " in sql]


def test_sessions_are_read_from_the_cache_and_survive_without_it(client, org):
    user = member(org, email="ada@acme.test")
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    client.get(f"/o/{org.slug}/devices/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/o/{org.slug}/devices/").status_code == 200
    assert "django_session" not in _tables(queries)  # from the cache
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/o/{org.slug}/devices/").status_code == 200  # still signed in: from the database
    assert "django_session" in _tables(queries)
    session_cookie = client.cookies["sessionid"].value
    client.post("/logout/")
    client.cookies["sessionid"] = session_cookie  # the old cookie, replayed after logging out
    response = client.get(f"/o/{org.slug}/devices/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
