from django import forms
from django.utils.translation import gettext_lazy as _


class FleetConnectionForm(forms.Form):
    url = forms.URLField(label=_("Fleet URL"), max_length=500, assume_scheme="https",
                         widget=forms.URLInput(attrs={"placeholder": "https://fleet.example.com"}))
    token = forms.CharField(
        label=_("API token"), required=False, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off",
                                          "placeholder": _("Leave empty to keep the saved token")}),
        help_text=_("The token of an API-only Fleet user. It is stored encrypted and never shown again."),
    )
    verify_tls = forms.BooleanField(label=_("Check Fleet's TLS certificate"), required=False, initial=True)

    def __init__(self, *args, has_token: bool, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.has_token = has_token
        if not has_token:
            self.fields["token"].widget.attrs["placeholder"] = ""

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not token and not self.has_token:
            raise forms.ValidationError(_("Enter the Fleet API token."))
        return token or None


class GroupLabelSettingsForm(forms.Form):
    """The organization's switch for groups kept as Fleet labels (``mdm_sync.labels``)."""

    sync_groups_as_labels = forms.BooleanField(
        label=_("Keep groups as Fleet labels"), required=False,
        help_text=_("Each group with enrolled devices becomes a manual label in Fleet holding exactly those hosts, "
                    "for scoping software, policies and profiles. Off: nothing more is sent; labels already in Fleet "
                    "stay as they are."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
