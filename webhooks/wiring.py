"""Where webhooks connect to the apps below them, called once from ``WebhooksConfig.ready``: its audit event codes,
and the after-sync step that announces enrollment status changes (after the steps that assign devices)."""

from core.audit import register_events
from mdm_sync.hooks import after_sync
from webhooks.enrollment import enrollment_changes_after_sync
from webhooks.events import EVENTS


def connect() -> None:
    register_events(EVENTS)
    after_sync.register(enrollment_changes_after_sync, order=90, name="webhooks.enrollment_changes")
