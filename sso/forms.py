from django import forms
from django.utils.translation import gettext_lazy as _

from sso.models import JIT_ROLES, SsoConfig
from sso.oidc import Discovery, SsoRefused, discover
from sso.refusals import refusal


class SsoStartForm(forms.Form):
    organization = forms.SlugField(
        label=_("Organization's short name"), max_length=50,
        help_text=_("The name after /o/ in your cockpit's addresses, e.g. “acme”. Ask your administrator if unsure."),
        widget=forms.TextInput(attrs={"autofocus": True, "autocapitalize": "none", "spellcheck": "false"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def check_issuer(issuer: str) -> tuple[str, Discovery | None]:
    """Discover ``issuer``: ("", its discovery) when it is an OpenID provider, else (the problem, None).

    The issuer the provider announces is the one kept; a difference of a trailing slash alone is forgiven."""
    try:
        return "", discover(issuer)
    except SsoRefused as exc:
        if exc.reason == "issuer_mismatch" and exc.detail.rstrip("/") == issuer.rstrip("/"):
            return check_issuer(exc.detail)
        if exc.reason == "issuer_mismatch":
            return str(_("The provider at this address announces the issuer “%(issuer)s”: enter exactly that.")
                       % {"issuer": exc.detail}), None
        if exc.reason == "idp_unreachable":
            return str(_("The discovery document could not be fetched from %(issuer)s (%(detail)s). Check the "
                         "address.") % {"issuer": issuer, "detail": exc.detail}), None
        return f"{refusal(exc.reason).what} ({exc.detail})", None


class SsoConfigForm(forms.Form):
    issuer = forms.URLField(label=_("Issuer URL"), max_length=500, assume_scheme="https",
                            help_text=SsoConfig._meta.get_field("issuer").help_text)
    client_id = forms.CharField(label=_("Client ID"), max_length=255)
    client_secret = forms.CharField(
        label=_("Client secret"), max_length=500, required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only: leave empty to keep the stored secret."))
    enabled = forms.BooleanField(label=_("Single sign-on enabled"), required=False)
    sso_required = forms.BooleanField(
        label=_("SSO required"), required=False,
        help_text=_("Password sign-in is off for members. Owners keep it as the break-glass path (audited)."))
    jit_enabled = forms.BooleanField(
        label=_("Create members on first sign-in (just in time)"), required=False,
        help_text=_("Someone your identity provider signs in who is not a member yet becomes one, with the role "
                    "below. Off: only existing members can sign in."))
    jit_role = forms.ChoiceField(label=_("Role of members created on sign-in"), choices=JIT_ROLES)

    def __init__(self, *args, has_secret: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.has_secret = has_secret

    def clean_issuer(self):
        problem, discovery = check_issuer(self.cleaned_data["issuer"].strip())
        if problem:
            raise forms.ValidationError(problem, code="discovery")
        return discovery.issuer

    def clean(self):
        data = super().clean()
        if data.get("enabled") and not (data.get("client_secret") or self.has_secret):
            self.add_error("client_secret", _("Enter the client secret the identity provider gave you."))
        if data.get("sso_required") and not data.get("enabled"):
            self.add_error("sso_required", _("Single sign-on must be enabled to be required."))
        return data
