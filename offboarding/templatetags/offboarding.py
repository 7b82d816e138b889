from django import template
from django.utils.html import format_html

register = template.Library()

TONES = {
    "draft": "info", "scheduled": "warn", "completed": "ok", "cancelled": "muted",
    "pending": "info", "applied": "ok", "awaiting_wipe": "warn", "skipped": "muted", "hold_failed": "bad",
    "requested": "info", "sent": "warn", "confirmed": "ok", "failed": "bad",
}


@register.simple_tag
def case_badge(value, label=None):
    """A pill for an offboarding, decision or wipe status (the cockpit's ``badge`` CSS classes)."""
    return format_html('<span class="badge badge-{}">{}</span>', TONES.get(value, "info"), label or value)
