"""Organization A's SCIM objects for the tenant isolation test (tests/cockpit/test_tenant_isolation.py).

The SCIM endpoint (``/scim/v2/…``) takes no organization in its URL: the token names it, as for the REST API, and
``tests/scim/test_isolation.py`` proves that another organization's users and groups are 404 there. The cockpit's
SCIM page (``scim_settings``, under ``/o/<slug>/``) is walked by the test like every other page.
"""

from core.actors import Actor
from scim.services import UserData, scim_user_update
from tests.scim.factories import ScimGroupFactory

PUBLIC = {"scim_root", "scim_endpoint"}


def objects(base) -> dict:
    employee = base["employee"]
    # A's SCIM activity names A's employee and e-mail: B's SCIM page must not show it.
    scim_user_update(employee=employee, actor=Actor.system("tests"), data=UserData(
        email=employee.email, external_id=employee.external_id,
        attributes={"displayName": "Acme Secret Corp person",
                    "emails": [{"value": "secret-a@acme.test", "type": "work", "primary": True}]}))
    scim_group = ScimGroupFactory(organization=base["org"], group=base["group"], external_id="Secret Group A")
    return {"scimuser": employee.scim, "scimgroup": scim_group}
