from django import forms
from django.contrib.auth.forms import AuthenticationForm

from cockpit.models import Employee, Group


class CockpitLoginForm(AuthenticationForm):
    username = forms.CharField(label="E-mail or user name", widget=forms.TextInput(attrs={"autofocus": True}))


class EmployeeForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=200, required=False)
    username = forms.CharField(max_length=150, required=False, label="Directory user name")
    domain_name = forms.CharField(max_length=150, required=False, label="Domain name")
    external_id = forms.CharField(max_length=150, required=False, label="External (HR) id")
    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.for_org(organization)


class GroupForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(max_length=500, required=False)


class EmployeeChoiceField(forms.CharField):
    """An employee typed as e-mail (with a datalist of suggestions), resolved within the organization."""

    def __init__(self, *args, organization=None, **kwargs):
        self.organization = organization
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        email = value.split("<")[-1].rstrip(">").strip()
        employee = Employee.objects.for_org(self.organization).filter(email__iexact=email).first()
        if employee is None:
            raise forms.ValidationError(f"No employee with the e-mail {email}.")
        return employee
