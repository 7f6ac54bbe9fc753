"""Monitor pages as operators, viewers and customer users meet them."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from monitors import scheduler
from monitors.models import CheckResult, Location, Monitor
from tests.conftest import World

FORM = {
    "name": "Core router",
    "hostname": "127.0.0.7",
    "status": "active",
    "check_interval": 5,
    "timeout_seconds": 10,
    "count": 3,
    "packet_size": 56,
    "retries": 0,
    "degraded_loss_percent": 20,
}


def test_operator_creates_a_monitor_and_sees_its_first_check(world: World):
    client = world.client("operator")
    response = client.post(
        "/monitors/new/", {**FORM, "customer": world.c1.pk, "check_interval_seconds": 30}
    )
    monitor = Monitor.objects.get(name="Core router")
    assert response["Location"] == f"/monitors/{monitor.public_id}/"
    assert monitor.interval.total_seconds() == 30 and monitor.next_check_at is not None
    scheduler.tick(timezone.now())  # the scheduler's next tick (tasks run inline in tests)
    html = client.get(f"/monitors/{monitor.public_id}/").content.decode()
    assert "3 / 3" in html and 'class="latency-chart"' in html and "Up" in html


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"hostname": "https://router.test"}, "without a scheme"),
        ({"check_interval_seconds": 4}, "Must be from 5"),
        ({"count": 0}, "Must be from 1 to 20"),
        ({"packet_size": 70000}, "Must be from 0 to 1472"),
        ({"allowed_check_country_codes": "Germany"}, "two-letter country codes"),
        ({"notification_email": "not-mail"}, "valid email"),
    ],
)
def test_the_form_refuses_what_the_api_refuses(world: World, changes, message):
    response = world.client("operator").post(
        "/monitors/new/", {**FORM, "customer": world.c1.pk, **changes}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not Monitor.objects.filter(name="Core router").exists()
    api = world.api(
        "operator",
        "POST",
        "/api/icmp-monitors",
        {
            "customerId": world.c1.pk,
            "name": "x",
            "hostname": changes.get("hostname", "127.0.0.1"),
            **({"checkIntervalSeconds": 4} if "check_interval_seconds" in changes else {}),
            **({"icmpConfig": {"count": 0}} if "count" in changes else {}),
            **({"icmpConfig": {"packetSize": 70000}} if "packet_size" in changes else {}),
            **(
                {"allowedCheckCountryCodes": ["Germany"]}
                if "allowed_check_country_codes" in changes
                else {}
            ),
            **({"notificationEmail": "not-mail"} if "notification_email" in changes else {}),
        },
    )
    assert api.status_code == 400


def test_list_refreshes_itself_and_filters(world: World):
    world.monitor_c1.health = "down"
    world.monitor_c1.save()
    client = world.client("viewer")
    html = client.get("/monitors/").content.decode()
    assert 'hx-trigger="every 10s"' in html and "Gateway ping" in html
    partial = client.get("/monitors/?health=down", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Gateway ping" in partial and "Router ping" not in partial


def test_customer_user_sees_only_their_monitors_and_no_controls(world: World):
    client = world.client("customer")
    assert "Router ping" not in client.get("/monitors/").content.decode()
    html = client.get(f"/monitors/{world.monitor_c1.public_id}/").content.decode()
    assert "Edit" not in html and "Pause" not in html and "New monitor" not in html


def test_viewer_may_pause_and_resume_but_not_edit(world: World):
    client = world.client("viewer")
    monitor = world.monitor_c1
    html = client.get(f"/monitors/{monitor.public_id}/").content.decode()
    assert "Pause" in html and "Edit" not in html
    client.post(f"/monitors/{monitor.public_id}/pause/")
    monitor.refresh_from_db()
    assert monitor.status == "disabled"
    client.post(f"/monitors/{monitor.public_id}/pause/")
    monitor.refresh_from_db()
    assert monitor.status == "active" and monitor.next_check_at is not None
    assert client.post(f"/monitors/{monitor.public_id}/edit/", FORM).status_code == 403


def test_chart_marks_outages_and_loss(world: World):
    location = Location.default()
    now = timezone.now()
    for i, (received, loss) in enumerate([(3, 0.0), (0, 100.0), (2, 33.3)]):
        CheckResult.objects.create(
            monitor=world.monitor_c1,
            location=location,
            due_at=now - timezone.timedelta(minutes=3 - i),
            sent=3,
            received=received,
            loss_percent=loss,
            rtt_min=1.0 if received else None,
            rtt_avg=1.5 if received else None,
            rtt_max=2.0 if received else None,
            status="up" if received == 3 else "down",
        )
    # The last hour is drawn from the checks: the failing ones shaded as one run of downtime,
    # the median green at no loss, red at a third lost, and no line where all were lost.
    page = f"/monitors/{world.monitor_c1.public_id}/?range=1h"
    html = world.client("viewer").get(page).content.decode()
    assert html.count("<title>Down from ") == 1
    lines = re.findall(r'<polyline [^>]*class="med ([\w-]+)"', html)
    assert lines[:2] == ["loss-0", "loss-high"]


def test_edit_keeps_the_validation_and_saves(world: World):
    client = world.client("operator")
    monitor = world.monitor_c1
    response = client.post(
        f"/monitors/{monitor.public_id}/edit/", {**FORM, "customer": world.c1.pk, "name": "Renamed"}
    )
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert monitor.name == "Renamed" and monitor.hostname == "127.0.0.7"
