"""Enrollment's bulk action on the inventory (``devices.bulk``): e-mail each selected device's owner the fix
instructions for its enrollment issues, one device at a time through ``fix_instructions_send``."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devices.bulk import BulkAction, NothingToDo
from enrollment.services import fix_instructions_send


def _send_fix_instructions(device, arguments, actor, source):
    outcome = fix_instructions_send(organization=device.organization, devices=[device], actor=actor)
    if outcome["sent"]:
        return "sent", _("Fix instructions e-mailed to %(email)s.") % {"email": device.assignee.email}
    raise NothingToDo(_("Nothing to send: the device has no active owner, or no issue its owner can fix."),
                      code="nothing_to_send")


SEND_FIX_INSTRUCTIONS = BulkAction(
    "send_fix_instructions", gettext_lazy("Send the fix instructions"), gettext_lazy(
        "Each device's owner is e-mailed the steps they can take for its enrollment issues. Devices without an active "
        "owner or without such an issue are reported as nothing to send."),
    _send_fix_instructions, order=60,
)
