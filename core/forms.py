from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from core.hooks import password_sign_in
from core.models import Employee, Group


class CockpitLoginForm(AuthenticationForm):
    username = forms.CharField(label=_("E-mail or user name"), widget=forms.TextInput(attrs={"autofocus": True}))

    def clean(self):
        typed = (self.cleaned_data.get("username") or "").strip()
        if typed:
            self.cleaned_data["username"] = _username_for_login(typed)
        return super().clean()

    def confirm_login_allowed(self, user):
        """Django's check (an inactive user is refused), then each ``core.hooks.password_sign_in`` step's."""
        super().confirm_login_allowed(user)
        password_sign_in.run(user=user, request=self.request)


def _username_for_login(typed: str) -> str:
    """The user name to authenticate: what was typed, or the user whose e-mail it is (when exactly one)."""
    user_model = get_user_model()
    manager = user_model._default_manager
    if "@" not in typed or manager.filter(**{user_model.USERNAME_FIELD: typed}).exists():
        return typed
    matches = list(
        manager.filter(email__iexact=typed, is_active=True).values_list(user_model.USERNAME_FIELD, flat=True)[:2]
    )
    return matches[0] if len(matches) == 1 else typed


class EmployeeForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    full_name = forms.CharField(max_length=200, required=False, label=_("Full name"))
    username = forms.CharField(max_length=150, required=False, label=_("Directory user name"))
    domain_name = forms.CharField(max_length=150, required=False, label=_("Domain name"))
    external_id = forms.CharField(max_length=150, required=False, label=_("External (HR) id"))
    start_date = forms.DateField(required=False, label=_("Start date"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, label=_("End date"), widget=forms.DateInput(attrs={"type": "date"}))
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False, label=_("Groups"))
    language = forms.ChoiceField(
        required=False, label=_("Language"), help_text=_("Their e-mails and enrollment page"),
        choices=[("", _("The organization’s language")), *settings.LANGUAGES],
    )

    def __init__(self, *args, organization, **kwargs):
        kwargs.setdefault("label_suffix", "")  # labels read like the rest of the cockpit: no trailing colon
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.for_org(organization)


class GroupForm(forms.Form):
    name = forms.CharField(max_length=150, label=_("Name"))
    description = forms.CharField(max_length=500, required=False, label=_("Description"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


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
            raise forms.ValidationError(_("No employee with the e-mail %(email)s.") % {"email": email})
        return employee


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"), help_text=_("Who uses it, e.g. “Workday sync”"))
    scope = forms.ChoiceField(choices=[("read", _("Read only")), ("write", _("Read and write"))], initial="read",
                              label=_("Scope"))


class PreferencesForm(forms.Form):
    """A cockpit user's own settings (``/account/preferences/``)."""

    language = forms.ChoiceField(
        required=False, label=_("Language"),
        help_text=_("The cockpit’s pages and the e-mails it sends you, in every organization"),
        choices=[("", _("The browser’s language (or the top bar’s choice)")), *settings.LANGUAGES],
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
