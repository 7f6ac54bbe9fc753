from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from portal.models import Customer, Organization
from vendors.models import PUBLIC_BASE_URLS, SECRET_FIELDS, Credential, Device, Vendor

WRITE_ONLY_HELP = "Stored encrypted and never shown again; leave blank to keep the current value."


class CredentialForm(forms.ModelForm):
    """Secrets are write-only: the inputs start empty and a blank one keeps what is stored."""

    base_url = forms.URLField(
        max_length=300,
        assume_scheme="https",
        label="Base URL",
        help_text="The vendor's API base URL.",
    )

    class Meta:
        model = Credential
        fields = ["name", "base_url", "simotel_method"]

    def __init__(self, *args: Any, vendor: str, organization: Organization, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vendor = vendor
        self.organization = organization
        if not self.instance.pk:
            self.initial.setdefault("base_url", PUBLIC_BASE_URLS.get(Vendor(vendor), ""))
        if vendor != Vendor.SIMOTEL:
            del self.fields["simotel_method"]
        hints = dict((n, h) for n, _, h in self.instance.secret_hints()) if self.instance.pk else {}
        for name, label in SECRET_FIELDS[vendor]:
            self.fields[f"secret_{name}"] = forms.CharField(
                label=label,
                required=False,
                strip=False,
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                ),
                help_text=f"{hints.get(name, 'not set')}. {WRITE_ONLY_HELP}"
                if hints
                else WRITE_ONLY_HELP,
            )
            if name == "customer_id":
                self.fields[f"secret_{name}"].help_text = "Filled in by the first login."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Credential.objects.filter(organization=self.organization, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("This organization already has a credential of that name.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        stored = self.instance.secrets if self.instance.pk else {}
        given = {n: data.get(f"secret_{n}") for n, _ in SECRET_FIELDS[self.vendor]}
        have = {n for n, v in given.items() if v} | {n for n, v in stored.items() if v}
        needs = {
            Vendor.MERAKI: [({"api_key"}, "secret_api_key", "An API key is required.")],
            Vendor.MONOGOTO: [
                ({"username"}, "secret_username", "A username is required."),
                ({"password"}, "secret_password", "A password is required."),
            ],
            Vendor.SIMOTEL: [
                (
                    {"api_key", "basic_user"},
                    "secret_api_key",
                    "Give an API key, a Basic auth user, or both.",
                )
            ],
        }[Vendor(self.vendor)]
        for any_of, field, message in needs:
            if not have & any_of:
                self.add_error(field, message)
        return data

    def secrets(self) -> dict[str, str]:
        return {
            n: self.cleaned_data.get(f"secret_{n}") or "" for n, _ in SECRET_FIELDS[self.vendor]
        }


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = [
            "customer",
            "kind",
            "name",
            "credential",
            "iccid",
            "serial",
            "host",
            "model",
            "network_id",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "iccid": "Monogoto Things, e.g. 8912372646888991.",
            "serial": "Meraki devices, e.g. Q234-ABCD-5678.",
        }

    def __init__(
        self,
        *args: Any,
        customers: QuerySet[Customer],
        credentials: QuerySet[Credential],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers
        self.fields["credential"].queryset = credentials
        self.fields["credential"].required = False
        self.fields["credential"].help_text = "For vendor devices: which account reaches it."
        self.fields["host"].label = "IP address or hostname"


class DeviceImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="CSV with a header row.")
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="…or paste CSV"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload:
            if upload.size > 2_000_000:
                raise forms.ValidationError("The file is larger than 2 MB.")
            try:
                data["csv"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
        else:
            data["csv"] = data.get("text") or ""
        if not data["csv"].strip():
            raise forms.ValidationError("Choose a CSV file or paste its contents.")
        return data
