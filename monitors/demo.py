"""Demo monitors on 127.0.0.x, which the running demo's scheduler checks."""

from __future__ import annotations

from django.utils import timezone

from monitors.models import Location, Monitor
from portal.models import Customer, Organization

MONITORS = [  # (customer index, name, host, seconds between checks, echoes)
    (0, "Warehouse gateway", "127.0.0.1", 30, 3),
    (0, "Depot firewall", "127.0.0.10", 60, 5),
    (1, "Clinic router", "127.0.0.2", 30, 3),
    (1, "Clinic PBX", "127.0.0.3", 60, 5),
]


def load(org: Organization, customers: list[Customer]) -> None:
    Location.default()
    for index, name, host, seconds, count in MONITORS:
        monitor, created = Monitor.objects.get_or_create(
            customer=customers[index],
            name=name,
            defaults={
                "hostname": host,
                "check_interval": 1,
                "check_interval_seconds": seconds,
                "timeout_seconds": 5,
                "config": {"packetSize": 56, "count": count},
                "next_check_at": timezone.now(),
            },
        )
        if not created and monitor.next_check_at is None:
            monitor.next_check_at = timezone.now()
            monitor.save(update_fields=["next_check_at"])
