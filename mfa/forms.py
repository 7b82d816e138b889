from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=32, label=_("Code"), strip=True,
        help_text=_("The 6-digit code your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false",
                                      "autocapitalize": "off"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class TotpCodeForm(CodeForm):
    """The first code of an authenticator app being set up: digits only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The 6-digit code the app shows once it has added the account.")
        self.fields["code"].widget.attrs.update({"inputmode": "numeric", "pattern": r"[0-9 ]*"})


class PolicyForm(forms.Form):
    required_for_admins = forms.BooleanField(
        required=False, label=_("Require two-factor authentication for owners and admins"),
        help_text=_("Owners and admins who sign in with a password confirm it with a code from an authenticator app "
                    "before any page of this organization; those without one set it up first. Single sign-on is "
                    "exempt (your identity provider answers for the second factor). The API is not affected."))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
