"""Assignment suggestion became off by default: existing organizations keep the mode they had."""

import pytest

from tests.migrations import migrate

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
