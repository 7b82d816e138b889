"""The audit log's registry: why a change happened (``Source``) and every event code with the sentence the cockpit
shows. The core's own codes are here; each app registers its own from its wiring (``register_events``).

Nothing here touches the database, so the models can describe an entry without importing the writer.
"""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """Why a change happened (DESIGN §4)."""

    MANUAL = "manual", _("Manual")
    ENROLLMENT = "enrollment", _("Enrollment")
    PRE_ASSIGNMENT = "pre_assignment", _("Pre-assignment")
    CSV_IMPORT = "csv_import", _("CSV import")
    SUGGESTION = "suggestion", _("Suggestion")
    OFFBOARDING = "offboarding", _("Offboarding")
    API = "api", _("API")
    SYNC = "sync", _("Sync")


EVENTS: dict[str, str] = {  # each sentence lazy (gettext_lazy), with its str.format placeholders
    "organization.created": _("{actor} created the organization {target}"),
    "organization.settings_updated": _("{actor} changed the settings of {target}"),
    "membership.created": _("{actor} gave {target} the role {after[role]}"),
    "api_token.created": _("{actor} created the API token {target} ({after[scope]})"),
    "api_token.revoked": _("{actor} revoked the API token {target}"),
    "group.created": _("{actor} created the group {target}"),
    "group.updated": _("{actor} edited the group {target}"),
    "group.deleted": _("{actor} deleted the group {target}"),
    "group.members_changed": _("{actor} changed the members of the group {target}"),
    "employee.created": _("{actor} added the employee {target}"),
    "employee.updated": _("{actor} edited the employee {target}"),
    # The cockpit's sign-in (cockpit.views.LoginView): recorded in each organization the account is a member of.
    "auth.login_locked": _("Sign-in locked for {target} after {after[failures]} failed attempts "
                           "(last from {after[address]}, for {after[minutes]} minutes)"),
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
    # The sentences are lazy (gettext_lazy): str() gives them in the language active now, the reader's.
    template = str(EVENTS.get(event.event, "{actor}: " + event.event + " on {target}"))
    sentence = template.format_map(
        _Blank(
            actor=event.actor_label,
            target=event.target_label or f"#{event.target_id}",
            before=_Blank(event.before or {}),
            after=_Blank(event.after or {}),
        )
    )
    if (event.after or {}).get("wipe_requested"):
        sentence += " " + gettext("(wipe requested)")
    if (event.after or {}).get("fleet_removal_requested"):
        sentence += " " + gettext("(removal from Fleet requested)")
    return sentence
