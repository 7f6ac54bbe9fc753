from __future__ import annotations

from datetime import timedelta

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def widget(field: BoundField) -> SafeString:
    """The field's widget, marked aria-invalid (Pico colours it) and tied to its error text."""
    if not field.errors:
        return field.as_widget()
    return field.as_widget(
        attrs={"aria-invalid": "true", "aria-describedby": f"{field.id_for_label}-error"}
    )


@register.filter
def get_item(mapping: dict, key: str) -> object:
    return mapping.get(key, "")


@register.filter
def duration(value: timedelta | None) -> str:
    """ "2 d 3 h", "1 h 12 min", "4 min 30 s", "45 s"."""
    if value is None:
        return "—"
    seconds = max(0, round(value.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"
