from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.models import Organization


class SignInRequestForm(forms.Form):
    email = forms.EmailField(label=_("Work e-mail"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class SignInCodeForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.HiddenInput)
    code = forms.CharField(label=_("Code from the e-mail"), max_length=12,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                         "autofocus": True}))


class RemoteManagementForm(forms.Form):
    """Auto-unenrollment (organization settings) and what installers carry (enrollment settings)."""

    language = forms.ChoiceField(
        label=_("Employees’ language"), required=False,
        choices=[("", _("Each employee’s browser (e-mails in English)")), *settings.LANGUAGES],
        help_text=_("Invitations, sign-in codes, fix instructions and the enrollment page, unless an employee has a "
                    "language of their own"))
    auto_unenroll_enabled = forms.BooleanField(label=_("Enable auto-unenrollment"), required=False)
    auto_unenroll_after_days = forms.IntegerField(label=_("Offline for more than (days)"), min_value=1, max_value=365)
    auto_unenroll_action = forms.ChoiceField(label=_("Purge by"), choices=Organization.AutoUnenrollAction.choices)
    auto_unenroll_reinvite = forms.BooleanField(
        label=_("Resend the invitation to employees whose devices were purged"), required=False)
    auto_unenroll_max_share_percent = forms.IntegerField(
        label=_("Stop and ask when one run would purge more than (% of enrolled devices)"), min_value=1,
        max_value=100)
    invite_employees_on_create = forms.BooleanField(
        label=_("Invite employees when HR creates them through the API"), required=False)
    enroll_secret = forms.CharField(
        label=_("Fleet enroll secret"), required=False, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off",
                                          "placeholder": _("Leave empty to keep the saved secret")}),
        help_text=_("Stored encrypted; installers carry it, pages never show it."),
    )
    fleet_url = forms.URLField(label=_("Fleet URL for agents"), required=False, max_length=500, assume_scheme="https",
                               help_text=_("Empty: the URL of the Fleet connection."))
    package_url_macos = forms.URLField(label=_("fleetd package for macOS (.pkg)"), required=False, max_length=500,
                                       assume_scheme="https")
    package_url_windows = forms.URLField(label=_("fleetd package for Windows (.msi)"), required=False,
                                         max_length=500, assume_scheme="https")
    package_url_linux = forms.URLField(label=_("fleetd package for Linux (.deb/.rpm)"), required=False,
                                       max_length=500, assume_scheme="https",
                                       help_text=_("Empty: Fleet’s own installer download."))

    ORGANIZATION_FIELDS = ("language", "auto_unenroll_enabled", "auto_unenroll_after_days", "auto_unenroll_action",
                           "auto_unenroll_reinvite", "auto_unenroll_max_share_percent", "invite_employees_on_create")
    ENROLLMENT_FIELDS = ("fleet_url", "package_url_macos", "package_url_windows", "package_url_linux")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
