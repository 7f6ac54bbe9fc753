from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

from portal.formatting import duration_text

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


# How long things lasted, as pages, notifications and reports say it.
register.filter("duration", duration_text)
