"""Where the mdm_sync app connects to the core and to its own after-sync steps, called once from
``MdmSyncConfig.ready``: its audit events, the device-command confirmation, and groups kept as Fleet labels
(after each sync, after group changes, and a panel on the group page)."""

from core.audit import register_events, register_phrases
from core.hooks import groups_changed
from core.panels import group_panels
from mdm_sync import labels
from mdm_sync.commands import commands_confirm_from_sync
from mdm_sync.events import EVENTS, PHRASES
from mdm_sync.hooks import after_sync
from mdm_sync.views import group_label_panel


def connect() -> None:
    register_events(EVENTS)
    register_phrases(PHRASES)
    after_sync.register(commands_confirm_from_sync, order=30, name="mdm_sync.command_confirmation")
    after_sync.register(labels.group_labels_after_sync, order=60, name="mdm_sync.group_labels")
    groups_changed.register(labels.group_labels_changed, order=10, name="mdm_sync.group_labels")
    group_panels.register(group_label_panel, order=10)
