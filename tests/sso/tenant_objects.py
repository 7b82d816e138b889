"""Organization A's single sign-on for the tenant isolation test (tests/cockpit/test_tenant_isolation.py).

The public pages (``/sso/``, ``/sso/<slug>/login/``, ``/sso/<slug>/callback/``) take no session: the flow's state is
bound to the organization it started for (``tests/sso/test_refusals.py``), and a session it starts is pinned to
that organization (``tests/sso/test_flow.py``). The settings page under ``/o/<slug>/`` is walked like every other.
"""

from sso.models import SsoConfig

PUBLIC = {"sso_start", "sso_login", "sso_callback"}


def objects(base) -> dict:
    # A's client id is one of the test's secrets: B's single sign-on page must not show it. Saved without the
    # service: its discovery check would need a provider.
    config = SsoConfig(organization=base["org"], issuer="https://idp.acme.test", client_id="secret-a@acme.test")
    config.client_secret = "Acme Secret Corp"
    config.save()
    return {"ssoconfig": config}
