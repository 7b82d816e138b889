from django import forms
from django.utils.translation import gettext_lazy as _

from scim.models import ScimSettings


class ScimSettingsForm(forms.Form):
    deactivation = forms.ChoiceField(
        label=_("When the identity provider deactivates a user"), choices=ScimSettings.Deactivation.choices,
        widget=forms.RadioSelect)
    schedule_after_days = forms.IntegerField(
        label=_("Days before a scheduled offboarding completes"), min_value=1, max_value=90,
        help_text=_("Or on the employee's end date when that is later. Until then IT can change each device's "
                    "decision, or cancel."))


class ScimTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100, initial="SCIM provisioning",
                           help_text=_("Who uses it, e.g. “Okta” or “Microsoft Entra ID”"))
