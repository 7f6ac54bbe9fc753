"""The status page settings form (on the customer page, for organization admins)."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils.text import slugify

from monitors.models import StatusPage
from portal.models import Customer


def suggested_slug(customer: Customer) -> str:
    base = slugify(customer.name)[:50] or "status"
    if not StatusPage.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


class StatusPageForm(forms.ModelForm):
    class Meta:
        model = StatusPage
        fields = ["mode", "title", "slug"]
        labels = {"mode": "Who can open it", "slug": "Address"}
        help_texts = {
            "title": "Shown at the top; blank: the customer's name.",
            "slug": "The public page is /status/<address>/.",
        }

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        if instance is None or instance.pk is None:
            kwargs.setdefault("initial", {}).setdefault("slug", suggested_slug(customer))
        super().__init__(*args, **kwargs)
