"""Why a single sign-on was refused: each reason code with its HTTP status, what happened, and what to do.

The page (``templates/sso/sso_refused.html``) shows the two sentences; the audit entry (``auth.sso_refused``) keeps
the code and the detail. 400: the request itself is wrong (start again); 403: the cockpit refuses this person or
this answer; 404: no single sign-on here; 502: the identity provider cannot be reached or misbehaves.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Refusal:
    status: int
    what: Promise
    todo: Promise


ASK_ADMIN = _("Ask an administrator of your organization to check the single sign-on settings.")
START_AGAIN = _("Start the sign-in again from the sign-in page.")

REFUSALS = {
    "not_configured": Refusal(404, _("This organization has no single sign-on, or it is turned off."),
                              _("Check the organization's short name, or sign in with your password.")),
    "idp_unreachable": Refusal(502, _("The organization's identity provider cannot be reached right now."),
                               _("Try again in a few minutes. If it keeps failing, ask an administrator to check "
                                 "the issuer URL in the single sign-on settings.")),
    "not_openid_provider": Refusal(502, _("The configured issuer does not answer as an OpenID Connect provider."),
                                   ASK_ADMIN),
    "issuer_mismatch": Refusal(502, _("The identity provider announces another issuer than the one configured."),
                               ASK_ADMIN),
    "idp_error": Refusal(403, _("The identity provider did not sign you in."),
                         _("If you cancelled, start again. Otherwise ask your identity provider's administrator "
                           "whether you may use Fleet Cockpit.")),
    "bad_state": Refusal(400, _("This sign-in answer does not belong to a sign-in started in this browser (it "
                                "expired, was already used, or was started elsewhere)."), START_AGAIN),
    "bad_request": Refusal(400, _("The identity provider's answer is incomplete."), START_AGAIN),
    "token_refused": Refusal(502, _("The identity provider refused to complete the sign-in."),
                             _("Start again. If it keeps failing, ask an administrator to check the client ID and "
                               "secret in the single sign-on settings.")),
    "wrong_audience": Refusal(403, _("The identity provider's token was issued for another application."),
                              ASK_ADMIN),
    "wrong_issuer": Refusal(403, _("The identity provider's token comes from another issuer than the configured "
                                   "one."), ASK_ADMIN),
    "token_expired": Refusal(403, _("The identity provider's token has expired or is too old."),
                             _("Start again; if it keeps failing, the identity provider's clock may be wrong.")),
    "nonce_mismatch": Refusal(403, _("The identity provider's token does not answer this sign-in (nonce "
                                     "mismatch)."), START_AGAIN),
    "invalid_token": Refusal(403, _("The identity provider's token is not valid."), ASK_ADMIN),
    "email_missing": Refusal(403, _("The identity provider did not share your e-mail address."),
                             _("Ask an administrator to allow the “email” scope for Fleet Cockpit in the identity "
                               "provider.")),
    "email_unverified": Refusal(403, _("The identity provider does not vouch for your e-mail address (it is not "
                                       "verified)."),
                                _("Verify your e-mail address with your identity provider, then start again.")),
    "other_organization": Refusal(403, _("Your account belongs to another organization, so this organization's "
                                         "identity provider cannot sign you in."),
                                  _("Sign in the way your own organization uses, or ask an administrator of this "
                                    "organization to add you as a member.")),
    "not_a_member": Refusal(403, _("You are not a member of this organization in Fleet Cockpit."),
                            _("Ask an administrator of the organization to add you as a member.")),
    "account_disabled": Refusal(403, _("Your Fleet Cockpit account is deactivated."),
                                _("Ask an administrator to reactivate it.")),
    "ambiguous_account": Refusal(403, _("Several Fleet Cockpit accounts have your e-mail address."),
                                 _("Ask an administrator to merge or remove the extra accounts.")),
}


def refusal(reason: str) -> Refusal:
    return REFUSALS.get(reason, REFUSALS["invalid_token"])
