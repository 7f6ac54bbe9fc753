"""Demo credentials and devices: every credential points at the loopback vendor simulator and
every address is in 127.0.0.0/8, so the demo pings nothing outside this machine."""

from __future__ import annotations

import json

from django.conf import settings

from portal.models import Customer, Organization
from vendors.models import Credential, Device, DeviceKind, Vendor

# The simulator's documented demo accounts (vendors/simulator.py); DEBUG-only demo data.
WEBHOOK_USER, WEBHOOK_PASSWORD = "pbx", "demo-webhook-password"
MONOGOTO_LOGIN = {"username": "demo", "password": "demo-password"}


def _credential(org: Organization, vendor: str, name: str, path: str, **secrets: str):
    credential, _ = Credential.objects.get_or_create(
        organization=org,
        name=name,
        defaults={"vendor": vendor, "base_url": f"{settings.VENDOR_SIMULATOR_URL}{path}"},
    )
    credential.base_url = f"{settings.VENDOR_SIMULATOR_URL}{path}"
    credential.set_secrets(**secrets)
    return credential


def load(org: Organization, customers: list[Customer]) -> None:
    from vendors.views import webhook_url

    northwind, contoso = customers
    meraki = _credential(
        org, Vendor.MERAKI, "Meraki (simulator)", "/meraki/api/v1", api_key="sim-meraki-key-0001"
    )
    meraki.save()
    monogoto = _credential(
        org,
        Vendor.MONOGOTO,
        "Monogoto (simulator)",
        "/monogoto",
        **MONOGOTO_LOGIN,
    )
    monogoto.save()
    simotel = _credential(
        org,
        Vendor.SIMOTEL,
        "Simotel PBX (simulator)",
        "/simotel",
        api_key="sim-simotel-key",
        webhook_user=WEBHOOK_USER,
        webhook_password=WEBHOOK_PASSWORD,
    )
    token = simotel.issue_webhook_token()  # the URL is only known when made: make it afresh
    simotel.save()
    settings.VENDOR_SIMULATOR_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    settings.VENDOR_SIMULATOR_CONFIG.write_text(
        json.dumps(
            {
                "simotel_webhooks": {
                    "sim-simotel-key": {
                        "url": webhook_url(token),
                        "user": WEBHOOK_USER,
                        "password": WEBHOOK_PASSWORD,
                    }
                }
            },
            indent=2,
        )
    )
    devices = [
        (
            northwind,
            DeviceKind.MONOGOTO_THING,
            "Van 12 SIM",
            {"credential": monogoto, "iccid": "8912372646888991"},
        ),
        (northwind, DeviceKind.HOST, "Warehouse gateway", {"host": "127.0.0.1"}),
        (
            contoso,
            DeviceKind.MERAKI_DEVICE,
            "Clinic MX68",
            {
                "credential": meraki,
                "serial": "Q2AB-CDEF-0001",
                "model": "MX68",
                "network_id": "N_sim",
            },
        ),
        (contoso, DeviceKind.SIMOTEL_SERVER, "Clinic PBX", {"credential": simotel}),
        (contoso, DeviceKind.HOST, "Branch router", {"host": "127.0.0.2"}),
    ]
    for customer, kind, name, fields in devices:
        Device.objects.update_or_create(
            customer=customer, name=name, defaults={"kind": kind, **fields}
        )
