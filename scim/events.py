from django.utils.translation import gettext_lazy as _

"""SCIM provisioning's audit event codes (registered from ``scim.wiring``) and the audit source of its changes.

Every change SCIM makes is recorded with the source ``scim``: the core's own entries (``employee.created``,
``group.members_changed``…) and the ones below. ``core.events.Source`` is not extended: its choices are also the
device history's, and SCIM never moves a device itself (a deactivation's offboarding does, as ``offboarding``).
"""

SCIM_SOURCE = "scim"
SOURCE_LABELS = {SCIM_SOURCE: _("SCIM")}  # the timeline's label of that source (core.events.register_sources)

EVENTS = {
    "scim.user_updated": _("{actor} changed the identity provider's attributes of {target} through SCIM"),
    "scim.user_deactivated": _(
        "{actor} deactivated {target} through SCIM: offboarding "
        "{after[offboarding_status]}"),
    "scim.user_reactivated": _(
        "{actor} reactivated {target} through SCIM: the offboarding it had started was cancelled"),
    "scim.user_reactivation_refused": _("{actor} asked through SCIM to reactivate {target}: {after[why]}"),
    "scim.user_removed": _("{actor} removed {target} from SCIM provisioning (DELETE); the employee is kept"),
    "scim.user_restored": _("{actor} provisioned {target} through SCIM again"),
    "scim.group_updated": _("{actor} changed the external id of the group {target} through SCIM"),
    "scim.settings_updated": _("{actor} changed the SCIM provisioning settings"),
}

# Sentences SCIM stores in audit entries and offboardings, kept as a code and parameters (core.events.Phrase): the
# cockpit shows them in the reader's language, not the identity provider's request's.
PHRASES = {
    "scim.reactivated": _("Reactivated by the identity provider (SCIM)"),
    "scim.refused_admin_offboarding": _(
        "an admin started their offboarding (#%(case)s); cancel it in the cockpit to keep them"),
    "scim.refused_offboarded": _("they have been offboarded; the cockpit does not bring offboarded employees back"),
}
