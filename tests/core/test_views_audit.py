"""The audit log page (core.views.audit_list): this organization's entries only, filtered by event."""

from core.actors import Actor
from tests.cockpit.pages import url

# --- audit log ------------------------------------------------------------------------------------


def test_audit_log_page(cockpit_client, org, assigned_device, other_org):
    from core.services import group_create

    group_create(organization=other_org, name="Secret plans", actor=Actor.system("tests"))
    response = cockpit_client.get(url("audit_list", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "assigned assigned-mbp to ada@acme.test" in html
    assert "Secret plans" not in html  # another organization's entries never show
    assert {e.organization_id for e in response.context["page"].object_list} == {org.pk}

    response = cockpit_client.get(url("audit_list", org, event="device.assigned"))
    assert [e.event for e in response.context["page"].object_list] == ["device.assigned"]
