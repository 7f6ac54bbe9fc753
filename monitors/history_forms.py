"""Forms of the monitor history pages: maintenance windows and export ranges."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.utils import timezone

from monitors.models import MaintenanceWindow

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class MaintenanceWindowForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("once", "Once"), ("weekly", "Every week")], initial="once", label="Repeats"
    )
    reason = forms.CharField(max_length=200, required=False)
    starts_at = forms.DateTimeField(
        required=False,
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    ends_at = forms.DateTimeField(
        required=False,
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    weekday = forms.TypedChoiceField(
        choices=[("", "—"), *WEEKDAYS], coerce=int, empty_value=None, required=False, label="On"
    )
    start_time = forms.TimeField(
        required=False, label="At", widget=forms.TimeInput(attrs={"type": "time"})
    )
    duration_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=7 * 1440, label="For (minutes)"
    )
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="e.g. Europe/Berlin")

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError("Not a time zone name (e.g. UTC, Europe/Berlin).") from None
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors.get("time_zone"):
            return data
        zone = ZoneInfo(data.get("time_zone") or "UTC")
        if data.get("kind") == "weekly":
            for name in ("start_time", "duration_minutes"):
                if data.get(name) in (None, ""):
                    self.add_error(name, "Needed for a weekly window.")
            if data.get("weekday") in (None, ""):
                self.add_error("weekday", "Needed for a weekly window.")
            return data
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if not starts:
            self.add_error("starts_at", "When does it start?")
        if not ends:
            self.add_error("ends_at", "When does it end?")
        if starts and ends:
            # The browser sends wall-clock times; they mean the chosen zone's wall clock.
            starts = _in_zone(starts, zone)
            ends = _in_zone(ends, zone)
            if ends <= starts:
                self.add_error("ends_at", "The end must come after the start.")
            elif ends <= timezone.now():
                self.add_error("ends_at", "This window is already over.")
            elif ends - starts > timedelta(days=31):
                self.add_error("ends_at", "At most 31 days; use a weekly window for routines.")
            data["starts_at"], data["ends_at"] = starts, ends
        return data

    def window(self, **owner: Any) -> MaintenanceWindow:
        data = self.cleaned_data
        weekly = data["kind"] == "weekly"
        return MaintenanceWindow(
            reason=data.get("reason", ""),
            time_zone=data["time_zone"],
            starts_at=None if weekly else data["starts_at"],
            ends_at=None if weekly else data["ends_at"],
            weekday=data["weekday"] if weekly else None,
            start_time=data["start_time"] if weekly else None,
            duration_minutes=data["duration_minutes"] if weekly else None,
            **owner,
        )


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(value.date(), value.time(), tzinfo=zone)


class RangeForm(forms.Form):
    """A date range for exports: whole days, `from` through `to` inclusive (UTC)."""

    MAX_DAYS = 400

    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = timezone.now().date()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=6)
        if start > end:
            self.add_error("start", "The start must not come after the end.")
        elif (end - start).days >= self.MAX_DAYS:
            self.add_error("start", f"At most {self.MAX_DAYS} days at once.")
        data["since"] = datetime.combine(start, time.min, tzinfo=UTC)
        data["until"] = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
        data["start"], data["end"] = start, end
        return data
