"""The suggestion panel on the device page, registered from ``assignment.wiring``."""

from django.utils.translation import gettext

from assignment.suggestion.scoring import KIND_LABELS
from assignment.suggestion.selectors import pending_suggestion_for_device
from core.panels import Panel


def device_suggestion_panel(request, device):
    """The device page: the pending suggestion, its evidence, and accept / reject."""
    if device.assignee_id is not None or device.is_archived or device.usage == "shared":
        return None
    suggestion = pending_suggestion_for_device(organization=request.organization, device=device)
    if suggestion is None:
        return None
    return Panel(template="assignment/suggestion_panel.html", title=gettext("Assignment suggestion"),
                 context={"suggestion": suggestion, "kind_labels": KIND_LABELS})
