from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from assignment.models import CsvImport
from assignment.services import SettleDecision
from core.forms import EmployeeChoiceField
from core.models import Group
from devices.models import Ownership


class PreAssignmentForm(forms.Form):
    serial_number = forms.CharField(max_length=100, label=_("Serial number"))
    employee = EmployeeChoiceField(label=_("Employee (e-mail)"))
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False, label=_("Groups"))
    domain_name = forms.CharField(max_length=150, required=False, label=_("Domain name"), help_text=_("Empty: MDM"))
    ownership = forms.ChoiceField(choices=Ownership.choices, initial=Ownership.CORPORATE, label=_("Ownership"))

    def __init__(self, *args, organization, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["employee"].organization = organization
        self.fields["groups"].queryset = Group.objects.for_org(organization)


class SettleForm(forms.Form):
    decision = forms.ChoiceField(choices=SettleDecision.choices, widget=forms.RadioSelect, label=_("Decision"))
    wipe = forms.BooleanField(required=False, initial=True,
                              label=_("Wipe the device (erase all data) when it changes owner"))

    def __init__(self, *args, pre_assignment=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if pre_assignment is not None:  # the choices name the people, not "the pre-assigned employee"
            owner = pre_assignment.device.assignee if pre_assignment.device_id else None
            self.fields["decision"].choices = [
                (SettleDecision.ASSIGN, gettext("Give the device to %(display_name)s") % {
                    "display_name": pre_assignment.employee.display_name}),
                (SettleDecision.KEEP, gettext("Keep it with %(owner)s and cancel the pre-assignment") % {
                    "owner": owner.display_name if owner else gettext("its current owner")}),
            ]


class CsvUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=CsvImport.Kind.choices, initial=CsvImport.Kind.ASSIGN,
                             label=_("What the file does"))
    file = forms.FileField(label=_("CSV file"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class CsvCommitForm(forms.Form):
    skip_errors = forms.BooleanField(required=False, label=_("Skip the rows in error and import the others"))
    wipe = forms.BooleanField(required=False, label=_("Wipe the devices that lose their owner"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
