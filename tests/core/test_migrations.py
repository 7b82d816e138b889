"""Cockpit data migrations: assignment suggestion off by default (existing organizations keep their mode); the
audit table's lean indexes (entries kept, reversible)."""

import pytest

from tests.migrations import migrate, table_indexes

BEFORE = [("cockpit", "0003_organization_auto_unenroll_action_and_more")]
AFTER = [("cockpit", "0004_organization_suggestion_off_by_default")]

pytestmark = [pytest.mark.usefixtures("scratch_database")]


def test_existing_organizations_keep_their_suggestion_mode_and_new_ones_start_off():
    old = migrate(BEFORE)  # from nothing: cockpit's first three migrations and what they depend on
    Organization = old.get_model("cockpit", "Organization")
    Organization.objects.create(slug="by-default", name="Default")  # the old default: suggest
    for mode in ("off", "suggest", "auto"):
        Organization.objects.create(slug=f"chose-{mode}", name=mode, assignment_suggestion_mode=mode)

    new = migrate(AFTER)
    Organization = new.get_model("cockpit", "Organization")
    modes = dict(Organization.objects.values_list("slug", "assignment_suggestion_mode"))
    assert modes == {"by-default": "suggest", "chose-off": "off", "chose-suggest": "suggest", "chose-auto": "auto"}
    assert Organization.objects.create(slug="new", name="New").assignment_suggestion_mode == "off"


def _audit_indexes() -> dict[str, tuple]:
    return table_indexes("cockpit_auditevent")


def test_the_audit_table_keeps_its_entries_and_the_indexes_its_readers_use_both_ways():
    old = migrate([("cockpit", "0008_job_language")])
    organization = old.get_model("cockpit", "Organization").objects.create(slug="acme", name="Acme")
    old.get_model("cockpit", "AuditEvent").objects.create(
        organization=organization, actor_type="system", actor_label="job", event="e", target_type="t", target_id="1")
    full = {"cockpit_auditevent_organization_id_1c7f07df", "cockpit_auditevent_actor_user_id_448dcd7c",
            "cockpit_auditevent_actor_token_id_39a69f5f"}
    assert full <= set(_audit_indexes())

    new = migrate([("cockpit", "0009_audit_lean_indexes")])
    indexes = _audit_indexes()
    assert not full & set(indexes)
    assert indexes["audit_actor_user"] == ("actor_user_id",) and indexes["audit_actor_token"] == ("actor_token_id",)
    assert indexes["audit_org_event"][0] == "organization_id"  # the organization's reads keep an index leading with it
    assert new.get_model("cockpit", "AuditEvent").objects.get().organization_id == organization.pk

    migrate([("cockpit", "0008_job_language")])  # reversible: the full indexes come back
    indexes = _audit_indexes()
    assert full <= set(indexes) and "audit_actor_user" not in indexes
