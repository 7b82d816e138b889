from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()

BADGE_TONES = {
    "in_use": "ok", "assigned": "ok", "enrolled": "ok", "active": "ok",
    "in_stock": "info", "to_assign": "warn", "awaiting_activation": "info", "awaiting_user_assignment": "warn",
    "partially_enrolled": "bad", "unenrolled": "muted", "archived": "muted", "offboarded": "muted",
    # Pre-assignments, suggestions, offboardings and their wipes.
    "waiting": "info", "applied": "ok", "conflict": "bad", "cancelled": "muted",
    "pending": "warn", "accepted": "ok", "rejected": "muted", "superseded": "muted",
    "draft": "info", "scheduled": "info", "completed": "ok", "awaiting_wipe": "warn", "hold_failed": "bad",
    "skipped": "muted", "requested": "info", "sent": "info", "confirmed": "ok", "failed": "bad",
}


@register.simple_tag
def badge(value, label=None):
    """A coloured status pill; the tone follows the status value."""
    if value in (None, ""):
        return mark_safe('<span class="badge badge-muted">—</span>')
    return format_html('<span class="badge badge-{}">{}</span>', BADGE_TONES.get(value, "info"), label or value)


def filled_params(query_dict):
    """A copy of a query string without its empty parameters (``?platform=&group=`` from a filter form sent without
    JavaScript): links built from it carry only the filters that filter."""
    params = query_dict.copy()
    for key in list(params):
        values = [value for value in params.getlist(key) if value.strip()]
        if values:
            params.setlist(key, values)
        else:
            del params[key]
    return params


@register.simple_tag(takes_context=True)
def filled_querystring(context, **changes):
    """Django's ``{% querystring %}`` without the empty parameters: ``{% filled_querystring page=2 %}``; a change
    to None removes its parameter."""
    params = filled_params(context["request"].GET)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def sort_link(context, field, label):
    """A column header that sorts by ``field``, toggling direction, keeping the other filters."""
    request = context["request"]
    params = filled_params(request.GET)
    current = params.get("ordering", "")
    new = f"-{field}" if current == field else field
    params["ordering"] = new
    params.pop("page", None)
    arrow = " ▲" if current == field else (" ▼" if current == f"-{field}" else "")
    return format_html('<a href="?{}" class="sort">{}{}</a>', params.urlencode(), label, arrow)


@register.filter
def ago(value):
    """“3 hours ago”, or “never”."""
    if not value:
        return _("never")
    return _("%(delta)s ago") % {"delta": timesince(value, depth=1)}
