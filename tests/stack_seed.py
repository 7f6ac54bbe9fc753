"""Seeds and drives a fault-test stack (tests/stack.py) from a subprocess, through the portal's
own code, against the stack's database: `python -m tests.stack_seed <command> '<json spec>'`
prints one line of JSON.

  world   an organization with an operator (and their session cookie), a read-write API key,
          a Meraki credential on the loopback simulator with `meraki_devices` devices, and
          `monitors` ICMP monitors on 127.0.0.1 every `interval` seconds, due now; with
          `launch`: n, also the pings of the first n devices (one subprocess fewer)
  launch  a ping (target 127.0.0.1, one echo) of each device in `devices`, as the operator,
          queued on the stack's job cluster
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from monitors.models import Monitor  # noqa: E402
from pings import launching  # noqa: E402
from pings.models import Via  # noqa: E402
from portal.models import ApiKey, Customer, Membership, Organization, Role, User  # noqa: E402
from vendors.models import Credential, Device, DeviceKind, Vendor  # noqa: E402


def world(spec: dict[str, Any]) -> dict[str, Any]:
    org = Organization.objects.create(name="Fault Networks", slug="faults")
    customer = Customer.objects.create(organization=org, name="Fault customer")
    operator = User.objects.create_user("operator", "op@example.test", "not-used-123456")
    Membership.objects.create(user=operator, organization=org, role=Role.OPERATOR)
    _, key = ApiKey.issue(organization=org, name="faults", read_only=False)
    client = Client()
    client.force_login(operator)
    credential = Credential(
        organization=org,
        vendor=Vendor.MERAKI,
        name="Meraki (simulator)",
        base_url=f"{spec.get('sim', 'http://127.0.0.1:9')}/meraki/api/v1",
    )
    credential.set_secrets(api_key="sim-meraki-key-0001")
    credential.save()
    devices = [
        Device.objects.create(
            customer=customer,
            kind=DeviceKind.MERAKI_DEVICE,
            credential=credential,
            name=f"Switch {n}",
            serial=f"Q2FT-0000-{n:04d}",
        )
        for n in range(1, spec.get("meraki_devices", 0) + 1)
    ]
    now = timezone.now()
    monitors = [
        Monitor.objects.create(
            customer=customer,
            name=f"Loopback {n}",
            hostname="127.0.0.1",
            check_interval_seconds=spec.get("interval", 60),
            timeout_seconds=2,
            config={"packetSize": 56, "count": 1},
            next_check_at=now,
        )
        for n in range(1, spec.get("monitors", 0) + 1)
    ]
    launched = launch({"devices": [d.pk for d in devices[: spec.get("launch", 0)]]})
    return {
        "jobs": launched,
        "api_key": key,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "devices": [
            {"id": d.pk, "name": d.name, "serial": d.serial, "public_id": str(d.public_id)}
            for d in devices
        ],
        "monitors": [m.pk for m in monitors],
    }


def launch(spec: dict[str, Any]) -> list[dict[str, Any]]:
    operator = User.objects.get(username="operator")
    jobs = []
    for device in Device.objects.filter(pk__in=spec["devices"]).order_by("pk"):
        options = launching.clean_options(device, {"target": "127.0.0.1", "count": 1})
        job = launching.launch(operator, device, options, via=Via.PAGE)
        jobs.append({"id": job.pk, "public_id": str(job.public_id), "serial": device.serial})
    return jobs


COMMANDS = {"world": world, "launch": launch}

if __name__ == "__main__":
    command, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    print(json.dumps(COMMANDS[command](json.loads(raw))))
