from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import EmployeeChoiceField
from core.models import Group
from core.selectors import device_technicians
from devices.models import Ownership, Platform, Usage


class DeviceForm(forms.Form):
    serial_number = forms.CharField(max_length=100, required=False, label=_("Serial number"))
    name = forms.CharField(max_length=200, required=False, label=_("Name"))
    platform = forms.ChoiceField(choices=Platform.choices, label=_("Platform"))
    model = forms.CharField(max_length=200, required=False, label=_("Model"))
    os_version = forms.CharField(max_length=100, required=False, label=_("OS version"))
    ownership = forms.ChoiceField(choices=Ownership.choices, initial=Ownership.CORPORATE, label=_("Ownership"))
    usage = forms.ChoiceField(choices=Usage.choices, initial=Usage.INDIVIDUAL, label=_("Usage"))
    responsible_technician = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Responsible technician"),
        help_text=_("Shared or kiosk devices only: who in IT answers for it"),
    )
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False, label=_("Groups"))
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Notes"))

    def __init__(self, *args, organization, editing: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")  # labels read like the rest of the cockpit: no trailing colon
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.for_org(organization)
        self.fields["responsible_technician"].queryset = device_technicians(organization=organization)
        if editing:  # the version the form was opened on: a later edit by someone else makes this one stale
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)


class DeviceMoveForm(forms.Form):
    """The confirmation of a status move: who (if the move needs an employee), wipe, release from Fleet, why."""

    employee = EmployeeChoiceField(label=_("Employee (e-mail)"), required=True)
    wipe = forms.BooleanField(required=False, label=_("Wipe the device (erase all data)"))
    remove_from_fleet = forms.BooleanField(
        required=False, label=_("Also remove it from Fleet (turn MDM off on Apple devices, then delete the host)"))
    leaving_confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=500, required=False, label=_("Note (optional)"))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, organization, needs_employee: bool, offers_wipe: bool, offers_removal: bool = False,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if needs_employee:
            self.fields["employee"].organization = organization
        else:
            del self.fields["employee"]
            del self.fields["leaving_confirmed"]
        if not offers_wipe:
            del self.fields["wipe"]
        if not offers_removal:
            del self.fields["remove_from_fleet"]


class IdListField(forms.Field):
    """Checked rows: several ``ids`` values (a list), each a positive integer."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(_("A selected device is not a device id.")) from exc
        if any(pk < 1 for pk in ids):
            raise forms.ValidationError(_("A selected device is not a device id."))
        return ids


class BulkActionForm(forms.Form):
    """The inventory's action bar and its confirmation page: which devices (checked ids, or every device the list's
    filters match), which action, its employee or group, the wipe decision and, for an archive, the removal from
    Fleet; ``confirmed`` once the page was read."""

    action = forms.ChoiceField(label=_("Action"), choices=())
    ids = IdListField(required=False)
    all_matching = forms.BooleanField(required=False, widget=forms.HiddenInput)
    filters = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    employee = forms.CharField(required=False, max_length=254, label=_("Employee (e-mail)"))
    group = forms.ModelChoiceField(queryset=Group.objects.none(), required=False, label=_("Group"))
    wipe = forms.BooleanField(required=False, label=_("Wipe each device (erase all data)"))
    remove_from_fleet = forms.BooleanField(
        required=False,
        label=_("Also remove each device from Fleet (turn MDM off on Apple devices, then delete the host)"))
    reason = forms.CharField(max_length=500, required=False, label=_("Note (optional)"))
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organization, actions, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a.name, a.label) for a in actions]
        self.fields["group"].queryset = Group.objects.for_org(organization)

    def clean(self):
        data = super().clean()
        if not data.get("all_matching") and not data.get("ids") and "ids" not in self.errors:
            raise forms.ValidationError(_("Select at least one device."))
        return data
