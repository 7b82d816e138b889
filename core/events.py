"""The audit log's registry: why a change happened (``Source``) and every event code with the sentence the cockpit
shows. The core's own codes are here; each app registers its own from its wiring (``register_events``).

Nothing here touches the database, so the models can describe an entry without importing the writer.
"""

from django.db import models


class Source(models.TextChoices):
    """Why a change happened (DESIGN §4)."""

    MANUAL = "manual", "Manual"
    ENROLLMENT = "enrollment", "Enrollment"
    PRE_ASSIGNMENT = "pre_assignment", "Pre-assignment"
    CSV_IMPORT = "csv_import", "CSV import"
    SUGGESTION = "suggestion", "Suggestion"
    OFFBOARDING = "offboarding", "Offboarding"
    API = "api", "API"
    SYNC = "sync", "Sync"


EVENTS: dict[str, str] = {
    "organization.created": "{actor} created the organization {target}",
    "organization.settings_updated": "{actor} changed the settings of {target}",
    "membership.created": "{actor} gave {target} the role {after[role]}",
    "api_token.created": "{actor} created the API token {target} ({after[scope]})",
    "api_token.revoked": "{actor} revoked the API token {target}",
    "group.created": "{actor} created the group {target}",
    "group.updated": "{actor} edited the group {target}",
    "group.deleted": "{actor} deleted the group {target}",
    "group.members_changed": "{actor} changed the members of the group {target}",
    "employee.created": "{actor} added the employee {target}",
    "employee.updated": "{actor} edited the employee {target}",
    # The cockpit's sign-in (cockpit.views.LoginView): recorded in each organization the account is a member of.
    "auth.login_locked": "Sign-in locked for {target} after {after[failures]} failed attempts "
                         "(last from {after[address]}, for {after[minutes]} minutes)",
}


def register_events(events: dict[str, str]) -> None:
    """Feature apps add their event codes from their ``AppConfig.ready``; a code is registered once."""
    clashes = {code for code, sentence in events.items() if EVENTS.get(code, sentence) != sentence}
    if clashes:
        raise ValueError(f"Audit event codes registered twice with different sentences: {sorted(clashes)}")
    EVENTS.update(events)


class _Blank(dict):
    def __missing__(self, key):
        return "—"


def describe(event) -> str:
    template = EVENTS.get(event.event, "{actor}: " + event.event + " on {target}")
    sentence = template.format_map(
        _Blank(
            actor=event.actor_label,
            target=event.target_label or f"#{event.target_id}",
            before=_Blank(event.before or {}),
            after=_Blank(event.after or {}),
        )
    )
    if (event.after or {}).get("wipe_requested"):
        sentence += " (wipe requested)"
    if (event.after or {}).get("fleet_removal_requested"):
        sentence += " (removal from Fleet requested)"
    return sentence
