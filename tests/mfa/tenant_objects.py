"""Organization A's two-factor objects for the tenant isolation test (tests/cockpit/test_tenant_isolation.py).

``/login/verify/`` (a sign-in's second step) and ``/account/security/`` (the signed-in user's own second factor) are
no organization's: they act on the session's own user only, never on an id from the URL (``tests/mfa``)."""

from core.models import Membership
from mfa import services
from tests.conftest import member
from tests.mfa.conftest import code_for
from tests.mfa.factories import MfaPolicyFactory

PUBLIC = {"mfa_verify", "account_security"}


def objects(base) -> dict:
    owner = member(base["org"], Membership.Role.ADMIN, email="secret-a@acme.test")
    device = services.totp_setup_start(user=owner)
    services.totp_setup_confirm(user=owner, code=code_for(device))
    MfaPolicyFactory(organization=base["org"], required_for_admins=False)
    return {"mfamember": Membership.objects.get(user=owner, organization=base["org"])}
