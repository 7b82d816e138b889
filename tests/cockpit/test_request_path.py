"""What every signed-in cockpit page costs before its view runs: the session, the user, the memberships."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cockpit.models import Membership
from tests.conftest import PASSWORD, member
from tests.factories import MembershipFactory, OrganizationFactory


def _tables(queries):
    sqls = [q["sql"] for q in queries.captured_queries]
    return [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in sqls if " FROM " in sql]


def test_one_membership_query_serves_the_organization_and_the_switcher(client, org, other_org, admin_user):
    MembershipFactory(organization=other_org, user=admin_user, role=Membership.Role.VIEWER)
    OrganizationFactory(slug="initech", name="Initech")  # not the user's
    client.force_login(admin_user)
    client.get(f"/o/{org.slug}/devices/")
    with CaptureQueriesContext(connection) as queries:
        html = client.get(f"/o/{other_org.slug}/devices/").content.decode()
    assert _tables(queries).count("cockpit_membership") == 1
    switcher = html.split('id="org-switcher"', 1)[1].split("</details>", 1)[0]
    assert "<summary>Globex <small>(Viewer)</small></summary>" in switcher  # this URL's organization and role
    listed = switcher.split("<ul>", 1)[1]
    assert listed.index(">Acme<") < listed.index(">Globex<") and "Initech" not in switcher  # by name
    assert 'aria-current="true">Globex' in switcher
    assert "Add a device" not in html  # the viewer's role, not the admin one of the other organization


def test_not_a_member_is_404_and_signed_out_is_sent_to_login(client, org, other_org, admin_user):
    client.force_login(admin_user)
    assert client.get(f"/o/{other_org.slug}/devices/").status_code == 404
    assert client.get("/o/no-such-org/devices/").status_code == 404
    client.logout()
    response = client.get(f"/o/{org.slug}/devices/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


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
