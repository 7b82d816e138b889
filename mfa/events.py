"""Two-factor authentication's audit event codes (registered from ``mfa.wiring``).

A user's second factor is theirs, not an organization's: each entry is recorded in every organization the user is a
member of (``mfa.services``), so each one's owners and admins see what happened to the accounts of their people.
The target is always the user whose second factor it is.
"""

from django.utils.translation import gettext_lazy as _

EVENTS = {
    "mfa.enrolled": _("{actor} set up two-factor authentication with an authenticator app"),
    "mfa.removed": _("{actor} turned two-factor authentication off for {target}"),
    "mfa.recovery_codes_regenerated": _("{actor} made new recovery codes for {target} (the old ones no longer work)"),
    "mfa.verified": _("{target} confirmed a sign-in with an authenticator code"),
    "mfa.recovery_code_used": _("{target} used a recovery code ({after[remaining]} left)"),
    "mfa.verification_failed": _("A wrong two-factor code was entered for {target} (from {after[address]})"),
    "mfa.locked": _("Two-factor codes locked for {target} after {after[failures]} wrong codes "
                    "(last from {after[address]}, for {after[minutes]} minutes)"),
    "mfa.reset": _("{actor} reset the two-factor authentication of {target}: they set it up again at their next "
                   "sign-in"),
    "mfa.policy_changed": _("{actor} changed whether owners and admins of {target} must use two-factor "
                            "authentication (required: {after[required]})"),
}
