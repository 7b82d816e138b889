"""Where SCIM provisioning connects to the apps below it, called once from ``ScimConfig.ready``."""

from core.audit import register_events, register_phrases, register_sources
from scim.events import EVENTS, PHRASES, SOURCE_LABELS


def connect() -> None:
    register_events(EVENTS)
    register_phrases(PHRASES)
    register_sources(SOURCE_LABELS)
