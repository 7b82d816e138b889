from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.models import ApiToken, AuditEvent, Employee, Group, Membership, Organization
from devices.models import Device


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_org_creates_it_with_an_owner_and_an_audit_entry(db):
    run("create_org", "initech", "--name", "Initech", "--owner-email", "boss@initech.test",
        "--owner-password", "a-long-password-1")
    org = Organization.objects.get(slug="initech")
    assert org.name == "Initech"
    membership = Membership.objects.get(organization=org)
    assert (membership.user.username, membership.role) == ("boss@initech.test", "owner")
    assert AuditEvent.objects.for_org(org).filter(event="organization.created", actor_type="system").exists()


@pytest.mark.parametrize("slug", ["Not A Slug", "ünïcode", ""])
def test_create_org_refuses_a_bad_slug(db, slug):
    with pytest.raises(CommandError):
        run("create_org", slug, "--name", "X")
    assert not Organization.objects.exists()


def test_create_org_refuses_a_taken_slug_and_changes_nothing(db):
    run("create_org", "initech", "--name", "Initech")
    with pytest.raises(CommandError, match="already exists"):
        run("create_org", "initech", "--name", "Other")
    assert Organization.objects.get().name == "Initech"


def test_create_api_token_prints_a_working_key_alone_on_the_last_line(db, client):
    run("create_org", "initech", "--name", "Initech")
    key = run("create_api_token", "initech", "--name", "HR", "--scope", "write").strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert token.scope == "write" and token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    response = client.get("/api/v1/devices/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200


def test_create_api_token_fails_clearly_for_an_unknown_org(db):
    with pytest.raises(CommandError, match="No organization"):
        run("create_api_token", "nope", "--name", "HR")


def test_seed_demo_builds_every_status_once(db):
    output = run("seed_demo", "--devices", "60", "--employees", "20")
    assert "admin@demo.test" in output
    org = Organization.objects.get(slug="demo")
    devices = Device.objects.for_org(org)
    assert devices.count() == 60
    assert Employee.objects.for_org(org).count() == 20
    assert Group.objects.for_org(org).count() >= 5
    pairs = set(devices.values_list("availability_status", "assignment_status"))
    assert pairs == {("in_use", "assigned"), ("in_stock", "to_assign"), ("in_use", "to_assign"), ("archived", None)}
    statuses = set(devices.values_list("enrollment_status", flat=True))
    assert {"awaiting_activation", "awaiting_user_assignment", "partially_enrolled", "enrolled",
            "unenrolled"} <= statuses
    # The dashboard's trend charts: today's real snapshot and 89 days of demo history before it.
    from mdm_sync.models import DailySnapshot

    history = DailySnapshot.objects.for_org(org)
    assert history.count() == 90 and history.last().devices == devices.exclude(availability_status="archived").count()
    from mdm_sync.models import FleetConnection

    assert FleetConnection.objects.for_org(org).get().token == "demo-fleet-token"  # `make run`'s simulator
    # Suggestion is off in a new organization; the demo turns it on (the other one keeps the default).
    assert org.assignment_suggestion_mode == "suggest"
    assert Organization.objects.get(slug="demo-labs").assignment_suggestion_mode == "off"
    assert "already exists" in run("seed_demo")
    assert Device.objects.for_org(org).count() == 60
