from __future__ import annotations

from typing import Any

from django import template

from pings.models import PingJob, launcher_for

register = template.Library()


@register.simple_tag(takes_context=True)
def launcher(context: Any, job: PingJob) -> str:
    """Who launched the job, as this viewer may see it (customer users: not staff names)."""
    return launcher_for(job, context["request"].user)
