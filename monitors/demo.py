"""Demo monitors on 127.0.0.x, which the running demo's scheduler checks."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from monitors import rollups
from monitors.models import (
    Health,
    Incident,
    IncidentState,
    Location,
    MaintenanceWindow,
    Monitor,
    Period,
    Rollup,
    StatusPage,
    StatusPageMode,
)
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
        load_history(monitor)
    # Northwind shows its status to the world at /status/northwind/.
    StatusPage.objects.get_or_create(
        customer=customers[0],
        defaults={"mode": StatusPageMode.PUBLIC, "slug": "northwind", "title": "Northwind status"},
    )
    # Northwind's routine: Sunday nights, checks go on but nobody is paged.
    MaintenanceWindow.objects.get_or_create(
        customer=customers[0],
        monitor=None,
        weekday=6,
        defaults={
            "start_time": time(2, 0),
            "duration_minutes": 60,
            "reason": "Weekly firmware window",
        },
    )


def load_history(monitor: Monitor, now: datetime | None = None) -> int:
    """Made-up history before the demo's first real check, so that the 7-day, 30-day and
    1-year charts, uptime figures and reports have something to show: day rollups for a year,
    hour rollups for 90 days, minute rollups for the last day, with a few incidents and one
    planned maintenance. Only for monitors without any history; returns rollup rows made."""
    if Rollup.objects.filter(monitor=monitor).exists():
        return 0
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    rng = random.Random(monitor.name)  # noqa: S311  (made-up demo data, the same everywhere)
    base = rng.uniform(6, 30)  # a made-up WAN latency in ms
    outages = [now - timedelta(days=d, hours=rng.randint(0, 23)) for d in (3, 41, 160, 290)]
    outage_length = timedelta(minutes=rng.randint(8, 40))
    maintenance = now - timedelta(days=12, hours=4)
    rows = []
    for period, back in ((Period.DAY, 365), (Period.HOUR, 90 * 24), (Period.MINUTE, 24 * 60)):
        step = timedelta(seconds=period)
        end = rollups.period_start(now - timedelta(minutes=1), period)
        for i in range(1, back + 1):
            start = end - step * i
            rows.append(
                _made_up(
                    monitor, period, start, step, base, rng, outages, outage_length, maintenance
                )
            )
    Rollup.objects.bulk_create(rows, batch_size=2000)
    for start in outages:
        Incident.objects.create(
            monitor=monitor,
            severity=Health.DOWN,
            state=IncidentState.CLOSED,
            started_at=start,
            opened_at=start,
            closed_at=start + outage_length,
            failed_checks=int(outage_length / monitor.interval),
            last_error="No reply to 3 echo requests (made-up demo history)",
        )
    return len(rows)


def _made_up(
    monitor: Monitor,
    period: int,
    start: datetime,
    step: timedelta,
    base: float,
    rng: random.Random,
    outages: list[datetime],
    outage_length: timedelta,
    maintenance: datetime,
) -> Rollup:
    seconds = step.total_seconds()
    checks = max(1, int(seconds / monitor.interval.total_seconds()))
    sent = checks * monitor.count
    down = sum(
        max(0.0, (min(start + step, o + outage_length) - max(start, o)).total_seconds())
        for o in outages
    )
    planned = max(
        0.0,
        (
            min(start + step, maintenance + timedelta(hours=1)) - max(start, maintenance)
        ).total_seconds(),
    )
    evening = 1.0 + 0.35 * (18 <= start.hour <= 22)  # busier links in the evening
    p50 = base * evening * rng.uniform(0.95, 1.1)
    lost_share = down / seconds + (rng.random() < 0.03) * rng.uniform(0.01, 0.08)
    received = int(sent * (1 - min(lost_share, 1.0)))
    return Rollup(
        monitor=monitor,
        period=period,
        start=start,
        checks=checks,
        sent=sent,
        received=received,
        rtt_min=p50 * rng.uniform(0.7, 0.9) if received else None,
        rtt_max=p50 * rng.uniform(1.3, 2.5) if received else None,
        rtt_p50=p50 if received else None,
        rtt_p90=p50 * rng.uniform(1.1, 1.3) if received else None,
        rtt_sum=p50 * 1.05 * received,
        down_seconds=down,
        maintenance_seconds=planned,
        up_seconds=max(0.0, seconds - down - planned),
    )
