"""The mdm_sync app's audit event codes, registered from ``mdm_sync.wiring``."""

from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

EVENTS = {
    # The Fleet connection (mdm_sync.services, mdm_sync.labels).
    "fleet_connection.saved": _("{actor} connected the organization to Fleet at {after[url]}"),
    "fleet_connection.tested": _("{actor} tested the Fleet connection: {after[result]}"),
    "fleet_connection.labels_setting_changed": _("{actor} turned groups as Fleet labels {after[state]}"),
    # The sync (mdm_sync.sync, mdm_sync.sync_apply).
    "sync_run.succeeded": _("{actor} synced with Fleet: {after[created]} new, {after[updated]} updated, "
    "{after[unchanged]} unchanged, {after[not_seen]} not seen"),
    "device.put_in_use": gettext_lazy("{actor} put {target} in use: it enrolled in the MDM for the first time"),
    # Groups kept as Fleet labels (mdm_sync.labels).
    "group_label.created": _("{actor} created the Fleet label {after[label]} for the group {target}"),
    "group_label.deleted": _("{actor} deleted the Fleet label {before[label]} of a deleted group"),
}

# Why we did not send a command (its error, core.events.Phrase), shown in the reader's language.
PHRASES = {
    "mdm_sync.wipe_first_failed": _("Not removed: the wipe asked before it failed. Retry the wipe, then this removal."),
    "mdm_sync.no_host_id": _("This device is not known to Fleet (no host id): do it by hand."),
    "mdm_sync.not_connected": _("This organization is not connected to Fleet: do it by hand."),
}
