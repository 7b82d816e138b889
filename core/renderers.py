"""A form renderer that writes the plain ``<input>`` and ``<select>`` widgets in Python.

Django renders each widget through its template, and each ``<option>`` of a select through two more
(``select_option.html``, ``attrs.html``): the inventory's filter form (eleven fields, some forty options)
cost about as much as everything else on the page (measured in benchmarks/). This renderer writes
exactly what those templates write (``tests/cockpit/test_renderers.py`` holds them equal, widget by
widget) and hands every other template, or one an app overrides, to Django's renderer.
"""

from functools import cache
from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData

WIDGETS = "django/forms/widgets/"
INPUT_TEMPLATES = frozenset(
    WIDGETS + f"{kind}.html"
    for kind in ("input", "text", "number", "email", "url", "search", "tel", "password", "hidden", "date",
                 "datetime", "time", "color")
)
SELECT_TEMPLATE = WIDGETS + "select.html"
OPTION_TEMPLATE = WIDGETS + "select_option.html"
DJANGO_FORMS_DIR = str(Path(django.forms.__file__).resolve().parent)


def _text(value) -> str:
    """``{{ value }}`` with autoescaping (lazy strings become text, safe strings stay as they are)."""
    return str(conditional_escape(value))


def _formatted(value) -> str:
    """``{{ value|stringformat:'s' }}``: ``stringformat`` keeps a safe value safe, else it is escaped."""
    text = str(value)
    return text if isinstance(value, SafeData) else str(conditional_escape(text))


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    """``django/forms/widgets/input.html``."""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _select(widget: dict) -> str | None:
    """``django/forms/widgets/select.html`` with ``select_option.html``; None if an option has its own template."""
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION_TEMPLATE:
                return None
            # The include keeps select_option.html's final newline.
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f'{_text(option["label"])}</option>\n'
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class FastWidgetRenderer(DjangoTemplates):
    """Django's default form renderer, with text inputs and selects written in Python."""

    def render(self, template_name, context, request=None):
        if self._builtin(template_name) and set(context) == {"widget"}:
            widget = context["widget"]
            if template_name == SELECT_TEMPLATE:
                html = _select(widget) if self._builtin(OPTION_TEMPLATE) else None
                if html is not None:
                    return html.strip()
            elif template_name in INPUT_TEMPLATES and "type" in widget:
                return _input(widget)
        return super().render(template_name, context, request=request)

    def _builtin(self, template_name: str) -> bool:
        return _is_builtin(self, template_name)


@cache
def _is_builtin(renderer: FastWidgetRenderer, template_name: str) -> bool:
    """True if ``template_name`` is one this renderer knows and no app overrides it (checked once)."""
    if template_name != SELECT_TEMPLATE and template_name != OPTION_TEMPLATE and template_name not in INPUT_TEMPLATES:
        return False
    names = [template_name] + ([WIDGETS + "input.html"] if template_name in INPUT_TEMPLATES else [])
    names += [WIDGETS + "attrs.html"]
    return all(str(renderer.get_template(name).origin.name).startswith(DJANGO_FORMS_DIR) for name in names)


fast_widget_renderer = FastWidgetRenderer()
