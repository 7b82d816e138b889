"""The Python widget renderer writes exactly what Django's widget templates write."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.test import RequestFactory
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core.renderers import FastWidgetRenderer, fast_widget_renderer
from devices.filtersets import DeviceFilterSet
from devices.selectors import device_queryset
from tests.factories import GroupFactory

django_renderer = DjangoTemplates()


class Everything(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": 'a "b" <c> & d'}))
    flags = forms.CharField(widget=forms.TextInput(attrs={"autofocus": True, "disabled": False, "data-x": 0}))
    safe = forms.CharField(widget=forms.TextInput(attrs={"title": mark_safe("<b>kept</b>")}))
    number = forms.IntegerField(min_value=1)
    email = forms.EmailField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput)
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    choice = forms.ChoiceField(choices=[("", "Any"), ("a&b", "A & B"), ("<x>", gettext_lazy("Lazy <x>")), (3, 3)])
    grouped = forms.ChoiceField(choices=[("Fruit", [("apple", "Apple"), ("pear", "Pear")]), ("other", "Other")])
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", mark_safe("<i>B</i>"))])
    maybe = forms.NullBooleanField()
    flag = forms.BooleanField(required=False)


DATA = [
    {},
    {"text": '"quoted" <b>', "flags": "x", "safe": "y", "number": "12", "email": "a@b.test", "hidden": "h&h",
     "password": "p<w>", "date": "2026-01-02", "choice": "a&b", "grouped": "pear", "many": ["a", "b"],
     "maybe": "true", "flag": "on"},
    {"number": "not a number", "choice": "3", "grouped": "other", "many": ["b"], "maybe": "false"},
]


def _rendered(form, renderer):
    form.renderer = renderer
    return {name: str(form[name]) for name in form.fields}


@pytest.mark.parametrize("data", DATA)
def test_every_plain_widget_renders_as_django_renders_it(data):
    bound = QueryDict(mutable=True)
    for key, value in data.items():
        bound.setlist(key, value if isinstance(value, list) else [value])
    form = Everything(bound if data else None)
    expected = _rendered(form, django_renderer)
    assert _rendered(form, FastWidgetRenderer()) == expected
    assert 'placeholder="a &quot;b&quot; &lt;c&gt; &amp; d"' in expected["text"]  # the cases are really hit


@pytest.mark.parametrize(
    "query",
    ["", "availability_status=in_use&platform=windows", "group=alpha&assignee=12&search=<x>&not_seen_in_fleet=true",
     "enrollment_issue=offline&ordering=-name&serial_number=SN1", "group=unknown&assignee=abc"],
)
def test_inventory_filter_form_renders_as_django_renders_it(org, query):
    GroupFactory(organization=org, name="Alpha")
    GroupFactory(organization=org, name="R&D <lab>")
    request = RequestFactory().get("/?" + query)
    request.organization = org
    filterset = DeviceFilterSet(request.GET or None, queryset=device_queryset(organization=org), request=request)
    filterset.is_valid()
    expected = _rendered(filterset.form, django_renderer)
    assert _rendered(filterset.form, fast_widget_renderer) == expected
    assert "R&amp;D &lt;lab&gt;" in expected["group"]


def test_other_templates_go_to_django(settings):
    form = forms.Form()
    form.fields["body"] = forms.CharField(widget=forms.Textarea)
    form.fields["pick"] = forms.ChoiceField(choices=[("a", "A")], widget=forms.RadioSelect)
    assert _rendered(form, FastWidgetRenderer()) == _rendered(form, django_renderer)


def test_plain_inputs_and_selects_never_reach_the_template_engine(monkeypatch):
    templates = []
    original = DjangoTemplates.render

    def spy(self, template_name, context, request=None):
        templates.append(template_name)
        return original(self, template_name, context, request)

    monkeypatch.setattr(DjangoTemplates, "render", spy)
    form = Everything()
    _rendered(form, FastWidgetRenderer())
    assert templates == ["django/forms/widgets/checkbox.html"]  # the one widget left to Django
