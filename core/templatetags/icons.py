"""``{% icon "name" %}``: one of the vendored Lucide icons (``cockpit/static/cockpit/vendor/icons/``), inlined.

Inline SVG takes the text colour (``stroke="currentColor"``) and needs no extra request. Each file is read once per
process. The icon is decoration: ``aria-hidden`` always, so the link or button beside it carries the words (visible,
or in a ``visually-hidden`` span).
"""

import re
from functools import lru_cache

from django import template
from django.contrib.staticfiles import finders
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

ICON_DIR = "cockpit/vendor/icons"
NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_LICENSE_COMMENT = re.compile(r"<!--.*?-->", re.S)
_OPEN_TAG = re.compile(r"<svg\b[^>]*>", re.S)
_SPACE = re.compile(r">\s+<")


class UnknownIcon(LookupError):
    pass


@lru_cache(maxsize=128)
def icon_body(name: str) -> str:
    """The icon's drawing (everything inside ``<svg>``), whitespace between tags removed."""
    path = finders.find(f"{ICON_DIR}/{name}.svg") if NAME.fullmatch(name) else None
    if not path:
        raise UnknownIcon(f"No icon {name!r} in static/{ICON_DIR}/: copy it there from lucide-static.")
    with open(path, encoding="utf-8") as handle:
        svg = _LICENSE_COMMENT.sub("", handle.read())
    body = _OPEN_TAG.sub("", svg, count=1).replace("</svg>", "")
    return _SPACE.sub("><", body.strip())


@register.simple_tag
def icon(name: str, css_class: str = ""):
    """An inline ``<svg class="icon icon-NAME">``, sized by CSS (1.1em), hidden from assistive technology."""
    classes = f"icon icon-{name} {css_class}".strip()
    return format_html(
        '<svg class="{}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">{}</svg>',
        classes, mark_safe(icon_body(name)),  # noqa: S308 - our own vendored file, not user input
    )
