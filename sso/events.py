"""Single sign-on's audit event codes (registered from ``sso.wiring``) and the audit source of what it does.

A member created on first sign-in is the core's ``membership.created`` with the source ``sso``.
"""

SSO_SOURCE = "sso"

EVENTS = {
    "sso.settings_updated": "{actor} changed the single sign-on settings",
    "auth.sso_login": "{target} signed in with single sign-on ({after[email]})",
    "auth.sso_refused": "Single sign-on refused for {after[email]}: {after[reason]}",
    "auth.break_glass_sign_in": "{target} signed in with a password although the organization requires single "
                                "sign-on (an owner's break-glass sign-in)",
    "auth.password_refused_sso_required": "{target} was refused a password sign-in: the organization requires "
                                          "single sign-on",
}
