"""Who the browser tests sign in as, and how: a cockpit user with a password and a membership, and the sign-in
form filled as a person would (from a page that needs it, so ``next`` brings the browser back there)."""

from core.models import Membership
from tests.factories import MembershipFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"


def cockpit_user(organization, *, role: str = Membership.Role.ADMIN, username: str = "alice", **fields):
    """A user ``username`` (e-mail ``<username>@acme.test`` unless given) with :data:`PASSWORD`, member of
    ``organization`` with ``role``."""
    fields.setdefault("email", f"{username}@acme.test")
    user = UserFactory(username=username, **fields)
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(organization=organization, user=user, role=role)
    return user


def sign_in(page, base: str, path: str = "/login/", *, username: str = "alice", lands_on: str | None = None):
    """Open ``path`` (the sign-in page, or a page that sends there), sign in, and wait for ``lands_on`` (by default
    ``path`` itself when it is not the sign-in page; nothing when it is and ``lands_on`` is not given)."""
    page.goto(f"{base}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    target = lands_on or (path if path != "/login/" else None)
    if target:
        page.wait_for_url(f"{base}{target}")
