"""Where single sign-on connects to the core, called once from ``SsoConfig.ready``: its audit codes, and its step
in the password sign-in (an organization that requires single sign-on refuses its members' passwords)."""

from core.audit import register_events
from core.hooks import password_sign_in
from sso.events import EVENTS
from sso.services import password_sign_in_check


def connect() -> None:
    register_events(EVENTS)
    password_sign_in.register(password_sign_in_check, order=50)
