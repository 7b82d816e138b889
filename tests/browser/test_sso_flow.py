"""Single sign-on in a real browser against a real OpenID provider (tests/sso/peer): the login page's link, the
organization's short name, the provider's login and consent forms, and back in the cockpit, signed in."""

import pytest

from core.models import AuditEvent, Membership
from tests.conftest import member
from tests.factories import OrganizationFactory
from tests.sso.conftest import configure, oidc_peer  # noqa: F401 - the peer fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_single_sign_on_from_the_login_page(live_server, oidc_peer, page):  # noqa: F811
    org = OrganizationFactory(slug="acme", name="Acme Corp")
    configure(org, oidc_peer)
    ada = member(org, Membership.Role.ADMIN, email="ada@acme.test", first_name="Ada", last_name="Lovelace")

    page.goto(f"{live_server.url}/login/")
    page.click("#sso-link")
    page.fill("input[name=organization]", "acme")
    page.click("#sso-start button[type=submit]")

    page.wait_for_url(f"{oidc_peer.issuer}/interaction/**")  # the identity provider's own sign-in form
    page.fill("input[name=login]", "ada@acme.test")
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
    page.click("button[type=submit]")  # consent

    page.wait_for_url(f"{live_server.url}/o/acme/")
    assert "Acme Corp" in page.title()
    assert AuditEvent.objects.for_org(org).filter(event="auth.sso_login", target_id=str(ada.pk)).exists()


def test_a_refusal_is_a_clear_page_in_the_browser(live_server, oidc_peer, page):  # noqa: F811
    org = OrganizationFactory(slug="acme", name="Acme Corp")
    configure(org, oidc_peer)

    page.goto(f"{live_server.url}/sso/acme/login/")
    page.fill("input[name=login]", "stranger@acme.test")
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
    page.click("button[type=submit]")

    page.wait_for_selector("#sso-refused")
    assert "not a member of this organization" in page.inner_text("#sso-refused-what")
    assert "Ask an administrator" in page.inner_text("#sso-refused-todo")
