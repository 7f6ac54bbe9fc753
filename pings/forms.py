from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pings import launching
from pings.models import JobVendor, Status
from vendors.models import Device, DeviceKind

HELP = {
    DeviceKind.MERAKI_DEVICE: "Meraki pings from the device: a target host, or the device "
    "itself from the cloud when the target is empty. 1 to 5 echoes.",
    DeviceKind.MONOGOTO_THING: "Monogoto pings the SIM's IP (or another IP you give).",
    DeviceKind.SIMOTEL_SERVER: "Checks that the PBX's API answers, and how fast.",
    DeviceKind.HOST: "The portal pings the host itself, or another target you give.",
}


class PingForm(forms.Form):
    """The options this device's vendor takes, checked by the same rules as the API's."""

    target = forms.CharField(required=False, max_length=253)
    count = forms.IntegerField(required=False)
    packet_size = forms.IntegerField(required=False, label="Packet size (bytes)")
    interval = forms.FloatField(required=False, label="Interval (s)")
    timeout = forms.FloatField(required=False, label="Timeout per echo (s)")

    def __init__(self, *args: Any, device: Device, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device
        kind = DeviceKind(device.kind)
        for name in list(self.fields):
            if name not in launching.SUPPORTED[kind]:
                del self.fields[name]
        self.help = HELP[kind]
        if "target" in self.fields:
            self.fields["target"].widget.attrs["placeholder"] = {
                DeviceKind.MERAKI_DEVICE: "empty: the device itself",
                DeviceKind.MONOGOTO_THING: device.host or "the Thing's IP",
                DeviceKind.HOST: device.host,
            }.get(kind, "")
        if "count" in self.fields:
            low, high = (
                launching.MERAKI_COUNT
                if kind is DeviceKind.MERAKI_DEVICE
                else launching.LOCAL_COUNT
            )
            self.fields["count"].widget.attrs.update(min=low, max=high, placeholder="5")
            self.fields["count"].help_text = f"{low} to {high}"
            if kind is DeviceKind.HOST:
                self.fields["count"].widget.attrs["placeholder"] = "4"
        if kind is DeviceKind.HOST:
            for name, (low, high), placeholder in (
                ("packet_size", launching.LOCAL_PACKET_SIZE, "56"),
                ("interval", launching.LOCAL_INTERVAL, "1"),
                ("timeout", launching.LOCAL_TIMEOUT, "2"),
            ):
                self.fields[name].widget.attrs.update(min=low, max=high, placeholder=placeholder)
                self.fields[name].help_text = f"{low:g} to {high:g}"
            self.fields["interval"].widget.attrs["step"] = "0.1"
            self.fields["timeout"].widget.attrs["step"] = "0.1"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.options = launching.clean_options(self.device, dict(data))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return data


class HistoryFilterForm(forms.Form):
    """The history's filters; the CSV export takes the same ones. `who` picks a member or an
    API key (matched by id, so the filter is an index lookup, not a text search)."""

    customer = forms.UUIDField(required=False)
    device = forms.UUIDField(required=False, widget=forms.HiddenInput)
    vendor = forms.ChoiceField(
        required=False, choices=[("", "All vendors"), *JobVendor.choices], label="Vendor"
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Status.choices], label="Status"
    )
    # A member or API key ("user:<id>", "key:<id>"). Any id of that form is accepted (a job's
    # launcher may have left); the select offers the organization's current ones.
    who = forms.RegexField(
        regex=r"^(user|key):\d{1,12}$",
        required=False,
        label="Launched by",
        widget=forms.Select,
        error_messages={"invalid": "Pick someone from the list."},
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, launchers: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if launchers is None:  # customer users: the organization's members are not theirs
            del self.fields["who"]
        else:
            self.fields["who"].widget.choices = [("", "Anyone"), *launchers]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Must not be before the “From” date.")
        return data
