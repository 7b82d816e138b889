"""What every signed-in cockpit page costs before its view runs: the session, the user, the memberships."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Membership
from tests.conftest import PASSWORD, member
from tests.factories import MembershipFactory, OrganizationFactory


def _tables(queries):
    sqls = [q["sql"] for q in queries.captured_queries]
    return [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in sqls if " FROM " in sql]


def test_the_memberships_come_from_the_cache_and_serve_the_switcher(client, org, other_org, admin_user):
    MembershipFactory(organization=other_org, user=admin_user, role=Membership.Role.VIEWER)
    OrganizationFactory(slug="initech", name="Initech")  # not the user's
    client.force_login(admin_user)
    client.get(f"/o/{org.slug}/devices/")
    with CaptureQueriesContext(connection) as queries:
        html = client.get(f"/o/{other_org.slug}/devices/").content.decode()
    tables = _tables(queries)
    assert "cockpit_membership" not in tables  # read by the first page, cached
    assert tables.count("auth_user") == 1  # the user, by primary key: never cached (a deactivation is seen at once)
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


def _warm(client, org):
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/o/{org.slug}/devices/").status_code == 200
    assert "cockpit_membership" not in _tables(queries)  # served from the cache from now on


def test_a_revoked_membership_answers_404_on_the_next_request(client, org, admin_user):
    client.force_login(admin_user)
    _warm(client, org)
    Membership.objects.get(user=admin_user, organization=org).delete()
    assert client.get(f"/o/{org.slug}/devices/").status_code == 404


def test_a_role_change_applies_on_the_next_request(client, org, admin_user):
    client.force_login(admin_user)
    _warm(client, org)
    assert "Add a device" in client.get(f"/o/{org.slug}/devices/").content.decode()
    seat = Membership.objects.get(user=admin_user, organization=org)
    seat.role = Membership.Role.VIEWER
    seat.save()
    assert "Add a device" not in client.get(f"/o/{org.slug}/devices/").content.decode()


def test_a_renamed_organization_shows_at_once(client, org, admin_user):
    client.force_login(admin_user)
    _warm(client, org)
    org.name = "Acme Renamed"
    org.save()
    assert "Acme Renamed" in client.get(f"/o/{org.slug}/devices/").content.decode()


def test_a_deactivated_user_or_a_changed_password_signs_out_on_the_next_request(client, org, admin_user):
    client.force_login(admin_user)
    _warm(client, org)
    admin_user.is_active = False
    admin_user.save()
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302
    admin_user.is_active = True
    admin_user.save()
    client.force_login(admin_user)
    _warm(client, org)
    admin_user.set_password("a-brand-new-passphrase-9")
    admin_user.save()
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302  # the session hash no longer matches


def test_an_entry_read_before_a_change_is_not_served_after_it():
    """The race the version tokens exist for: a request reads the database, a change lands, then the
    request stores what it read. The next read must not serve it."""
    from core.caching import cached_read, invalidate

    def load_then_change():
        value = "old"
        invalidate("race-key")  # the change commits between this request's read and its cache write
        return value

    assert cached_read("race-key", load_then_change) == "old"
    assert cached_read("race-key", lambda: "new") == "new"
    assert cached_read("race-key", lambda: "never asked") == "new"


def test_a_user_deactivated_or_given_a_new_password_by_any_writer_is_signed_out(client, org, admin_user):
    """Not only through ``save()``: an ``update()`` (or SQL) sends no signal, and still takes effect at once."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    users = get_user_model().objects.filter(pk=admin_user.pk)
    client.force_login(admin_user)
    _warm(client, org)
    users.update(is_active=False)
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302
    users.update(is_active=True)
    client.force_login(admin_user)
    _warm(client, org)
    users.update(password=make_password("another-passphrase-42"))
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302
