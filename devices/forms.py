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
