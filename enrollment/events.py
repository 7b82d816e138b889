from django.utils.translation import gettext_lazy as _

"""The enrollment app's audit event codes, registered from ``enrollment.wiring``."""

EVENTS = {
    "enrollment.invitation_sent": _("{actor} sent the enrollment invitation to {target} ({after[kind]})"),
    "enrollment.signed_in": _("{target} signed in on the enrollment page"),
    "enrollment.installer_downloaded": _("{target} downloaded the {after[platform]} installer ({after[format]})"),
    "enrollment.fix_instructions_sent": _("{actor} sent the fix instructions for {target} to {after[employee]}"),
    "enrollment.bulk_queued": _("{actor} queued {after[total]} e-mails ({after[kind]}) for {target}"),
    "enrollment.bulk_abandoned": _("{actor} abandoned a bulk send ({after[kind]}) of {target}: {after[sent]} of "
                                 "{after[total]} e-mails sent"),
    "enrollment.exemption_changed": _("{actor} set the auto-unenrollment exemption of {target} to {after[exempt]}"),
    "enrollment.settings_updated": _("{actor} changed the remote management settings of {target}"),
    "auto_unenroll.succeeded": _("{actor} purged {after[purged]} offline device(s) ({target})"),
    "auto_unenroll.confirmed": _(
        "{actor} confirmed a stopped run and purged {after[purged]} device(s) "
        "({target})"),
    "auto_unenroll.blocked": _(
        "{actor} stopped {target}: {after[candidates]} of {after[enrolled]} devices is too many"),
    "auto_unenroll.stale_sync": _("{actor} skipped {target}: the last Fleet sync is too old"),
    "auto_unenroll.failed": _("{actor} could not purge offline devices ({target})"),
    # Rate-limit lockouts on the enrollment page (the e-mail as typed, known or not: the entry tells nothing more).
    "enrollment.signin_email_locked": _("Enrollment sign-in paused for {after[email]}: more than {after[allowed]} "
                                      "{after[kind]} in {after[minutes]} minutes"),
    "enrollment.signin_address_locked": _("Enrollment sign-in paused for the address {after[address]}: more than "
                                        "{after[allowed]} {after[kind]} in {after[minutes]} minutes"),
}

# Reasons stored as a code and parameters (core.events.Phrase), shown in the reader's language.
PHRASES = {
    "enrollment.auto_unenrolled": _("Not seen for more than %(days)s days (auto-unenrollment)"),
    "enrollment.same_employee": _("Installer and SSO e-mails name the same employee"),  # an automatic assignment
}
