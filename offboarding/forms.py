from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.forms import EmployeeChoiceField
from core.models import Organization
from offboarding.models import WIPE_BY_DEFAULT, DeviceAction

NO_CHANGE = ""


class DecisionsForm(forms.Form):
    """One row per device the leaver holds: decision, receiver (for reassign), wipe; plus "apply to all".

    Fields per device ``d``: ``action_d``, ``reassign_to_d``, ``wipe_d``. The "apply to all" row
    (``all_action``, ``all_reassign_to``, ``all_wipe``) is applied by the view when its button is
    pressed, and the form is shown again: it works without JavaScript.
    """

    all_action = forms.ChoiceField(choices=[(NO_CHANGE, "—"), *DeviceAction.choices], required=False,
                                   label=_("Decision for every device"))
    all_reassign_to = EmployeeChoiceField(required=False, label=_("Receiver (reassign)"))
    all_wipe = forms.BooleanField(required=False, label=_("Wipe every device"))

    def __init__(self, *args, organization, devices, initial_rows: dict, with_date: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.devices = list(devices)
        self.fields["all_reassign_to"].organization = organization
        for device in self.devices:
            row = initial_rows.get(device.pk, {})
            self.fields[f"action_{device.pk}"] = forms.ChoiceField(
                choices=DeviceAction.choices, initial=row.get("action"), label=gettext("Decision for %(device)s") % {
                    "device": device})
            field = EmployeeChoiceField(required=False, label=gettext("Receiver of %(device)s") % {"device": device},
                                        initial=row.get("reassign_to_email", ""))
            field.organization = organization
            self.fields[f"reassign_to_{device.pk}"] = field
            self.fields[f"wipe_{device.pk}"] = forms.BooleanField(
                required=False, initial=row.get("wipe", False), label=f"Wipe {device}")
        if with_date:
            self.fields["effective_date"] = forms.DateField(
                required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Effective date"),
                help_text=_("Optional. On the summary you complete the offboarding now, or schedule it for this day."))

    def clean(self):
        """A reassigned device needs an active receiver other than the leaver: say so on its row."""
        cleaned = super().clean()
        for device in self.devices:
            if cleaned.get(f"action_{device.pk}") != DeviceAction.REASSIGN:
                continue
            field = f"reassign_to_{device.pk}"
            if field in self.errors:
                continue
            receiver = cleaned.get(field)
            if receiver is None:
                self.add_error(field, gettext("Say who receives %(device)s.") % {"device": device})
            elif receiver.pk == device.assignee_id:
                self.add_error(field, gettext("%(device)s cannot be reassigned to the leaver.") % {"device": device})
            elif not receiver.is_active:
                self.add_error(field, gettext("%(display_name)s has been offboarded and cannot receive %(device)s.") % {
                    "display_name": receiver.display_name, "device": device})
        return cleaned

    def rows(self):
        """For the template: (device, action field, receiver field, wipe field)."""
        for device in self.devices:
            yield (device, self[f"action_{device.pk}"], self[f"reassign_to_{device.pk}"], self[f"wipe_{device.pk}"])

    def decisions(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {"device": device, "action": data[f"action_{device.pk}"],
             "reassign_to": data[f"reassign_to_{device.pk}"] if data[f"action_{device.pk}"] == "reassign" else None,
             "wipe": data[f"wipe_{device.pk}"]}
            for device in self.devices
        ]

    def applied_to_all(self) -> dict:
        """The POST data with the "apply to all" row copied onto every device row."""
        data = self.data.copy()
        action = self.data.get("all_action") or NO_CHANGE
        for device in self.devices:
            if action:
                data[f"action_{device.pk}"] = action
                if action == DeviceAction.REASSIGN:
                    data[f"reassign_to_{device.pk}"] = self.data.get("all_reassign_to", "")
            if self.data.get("all_wipe"):
                data[f"wipe_{device.pk}"] = "on"
            elif action:
                data.pop(f"wipe_{device.pk}", None)
        data["all_action"] = ""
        data.pop("all_wipe", None)
        return data


def default_rows(decisions=None, devices=(), default=None) -> dict:
    """Initial rows: the case's decisions, else the organization's default with the action's wipe default."""
    rows = {}
    for decision in decisions or ():
        rows[decision.device_id] = {
            "action": decision.action, "wipe": decision.wipe,
            "reassign_to_email": decision.reassign_to.email if decision.reassign_to_id else "",
        }
    for device in devices:
        if device.pk not in rows and default:
            rows[device.pk] = {"action": default, "wipe": WIPE_BY_DEFAULT[DeviceAction(default)]}
    return rows


class ScheduleForm(forms.Form):
    effective_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label=_("Effective date"))


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label=_("Why (optional)"))


class OffboardingSettingsForm(forms.Form):
    """The organization's offboarding settings (saved through ``organization_update_settings``)."""

    offboarding_default_action = forms.ChoiceField(
        choices=Organization.OffboardingDefaultAction.choices, label=_("Default decision"),
        help_text=_("For devices an HR offboarding request does not name, and devices the leaver receives after "
        "the case was drafted."))
    offboarding_hold_until_wipe = forms.BooleanField(
        required=False, label=_("Hold a reassigned device until its wipe is confirmed"),
        help_text=_("The device waits in stock, wiped, before it goes to its new owner."))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
