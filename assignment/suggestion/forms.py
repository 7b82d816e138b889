"""Forms of the suggestion pages: settings (mode, threshold), a rejection reason, a bulk decision."""

from django import forms
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from core.models import Organization


class SuggestionSettingsForm(forms.Form):
    assignment_suggestion_mode = forms.ChoiceField(
        choices=Organization.SuggestionMode.choices, label=_("Mode"),
        help_text=_("Off: nothing is computed. Suggest: an admin accepts or rejects each one. "
        "Auto: devices not yet assigned are assigned when the suggestion reaches the threshold."),
    )
    suggestion_confidence_threshold = forms.FloatField(
        min_value=0.5, max_value=1.0, label=_("Confidence threshold (auto mode)"),
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SuggestionRejectForm(forms.Form):
    reason = forms.CharField(max_length=255, required=False, label=_("Reason"))


class SuggestionBulkForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("reject", _("Reject"))], label=_("Decision"))
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True, error_messages={
        "required": gettext_lazy("Select at least one suggestion.")})
    reason = forms.CharField(max_length=255, required=False, label=_("Reason"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any positive id is a valid choice here; the service checks each belongs to the organization.
        self.fields["ids"].valid_value = lambda value: str(value).isascii() and str(value).isdigit()
