"""The cockpit's form of a webhook endpoint."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from webhooks.events import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=500, label=_("URL"), assume_scheme="https",
                         help_text=_("Where the events are POSTed: a public http(s) address of your receiver."))
    description = forms.CharField(max_length=200, required=False, label=_("Description"),
                                  help_text=_("Who receives them, e.g. “Workday device sync”."))
    event_types = forms.MultipleChoiceField(
        label=_("Events"), widget=forms.CheckboxSelectMultiple,
        choices=[(event_type, format_lazy("{} — {}", event_type, sentence))
                 for event_type, sentence in EVENT_TYPES.items()])

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
