"""Where SCIM provisioning connects to the apps below it, called once from ``ScimConfig.ready``."""

from core.audit import register_events
from scim.events import EVENTS


def connect() -> None:
    register_events(EVENTS)
