"""Incident pages, maintenance windows and the CSV exports, as staff and customers use them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from monitors.checks import run_batch
from monitors.models import CheckResult, Incident, Location, MaintenanceWindow, Monitor
from tests.conftest import World
from tests.test_monitor_incidents import DOWN, UP, make_monitor, play


def rows_of(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_an_incident_page_shows_its_timeline_causes_and_notifications(world: World):
    m = make_monitor(world, retries=1)
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    play(m, [UP, DOWN, DOWN, DOWN, UP], start=start)
    incident = Incident.objects.get(monitor=m)
    html = world.client("viewer").get(f"/incidents/{incident.pk}/").content.decode()
    assert "within the retries until" in html and "not counted as downtime" in html
    assert "noc@example.test" in html  # staff see where notices went
    assert html.count('class="badge health-down"') >= 3  # the three failed checks
    assert "Incident opened" in html and "Email" in html
    mine = world.client("customer").get(f"/incidents/{incident.pk}/").content.decode()
    assert "Incident opened" in mine and "noc@example.test" not in mine
    listing = world.client("customer").get(f"/monitors/{m.public_id}/incidents/").content.decode()
    assert f"/incidents/{incident.pk}/" in listing and "Recovering" in listing


def test_an_operator_plans_a_weekly_window_and_checks_in_it_count_as_maintenance(world: World):
    m = make_monitor(world)
    client = world.client("operator")
    response = client.post(
        f"/monitors/{m.public_id}/maintenance/",
        {
            "kind": "weekly",
            "weekday": "0",
            "start_time": "10:00",
            "duration_minutes": "30",
            "time_zone": "UTC",
            "reason": "Firmware <b>upgrade</b>",
        },
    )
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get(monitor=m)
    assert window.created_by.username == "operator" and window.customer == world.c1
    monday = datetime(2026, 11, 2, 10, 5, tzinfo=UTC)
    result = run_batch(Location.default(), [(m.pk, monday, 0)], DOWN)[0]
    assert result.maintenance and not Incident.objects.filter(monitor=m).exists()
    html = client.get(f"/monitors/{m.public_id}/maintenance/").content.decode()
    assert "Every Monday at 10:00 for 30 min (UTC)" in html
    assert "Firmware &lt;b&gt;upgrade&lt;/b&gt;" in html


def test_a_one_off_window_in_a_time_zone_is_stored_in_utc(world: World):
    later = timezone.now() + timedelta(days=2)
    response = world.client("operator").post(
        f"/customers/{world.c1.public_id}/maintenance/",
        {
            "kind": "once",
            "starts_at": later.strftime("%Y-%m-%dT10:00"),
            "ends_at": later.strftime("%Y-%m-%dT12:00"),
            "time_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get(customer=world.c1, monitor=None, reason="")
    assert window.starts_at.astimezone(UTC).hour == 1 and window.length == timedelta(hours=2)


def test_the_window_form_refuses_what_makes_no_sense_and_saves_nothing(world: World):
    client = world.client("operator")
    url = f"/monitors/{world.monitor_c1.public_id}/maintenance/"
    before = MaintenanceWindow.objects.count()
    cases = [
        ({"kind": "once", "time_zone": "UTC"}, "When does it start?"),
        (
            {
                "kind": "once",
                "starts_at": "2020-01-01T10:00",
                "ends_at": "2020-01-01T11:00",
                "time_zone": "UTC",
            },
            "already over",
        ),
        ({"kind": "weekly", "time_zone": "UTC"}, "Needed for a weekly window."),
        ({"kind": "weekly", "time_zone": "Mars/Olympus"}, "Not a time zone name"),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 400 and message in response.content.decode()
    assert MaintenanceWindow.objects.count() == before


def test_read_only_users_see_windows_but_get_no_form(world: World):
    html = world.client("viewer").get(f"/monitors/{world.monitor_c1.public_id}/maintenance/")
    assert "Planned" in html.content.decode() and "Plan it" not in html.content.decode()


def test_the_checks_export_has_every_check_in_the_range_with_every_reply(world: World):
    m = make_monitor(world)
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    play(m, [UP, DOWN], start=day + timedelta(minutes=1))
    play(m, [UP], start=day - timedelta(days=3))  # outside the range asked for
    client = world.client("customer")
    response = client.get(
        f"/monitors/{m.public_id}/checks.csv",
        {"start": day.date().isoformat(), "end": day.date().isoformat()},
    )
    rows = rows_of(response)
    assert response["Content-Type"].startswith("text/csv")
    assert [r["status"] for r in rows] == ["up", "down"]
    assert rows[0]["rtts_ms"] == "1 1 1 1" and rows[1]["rtts_ms"] == "lost lost lost lost"
    assert rows[1]["loss_percent"] == "100.0" and rows[0]["monitor"] == "Core router"


def test_the_customer_exports_cover_all_its_monitors(world: World):
    m = make_monitor(world)
    play(m, [DOWN], start=timezone.now() - timedelta(minutes=5))
    client = world.client("operator")
    incidents = rows_of(client.get(f"/customers/{world.c1.public_id}/monitor-incidents.csv"))
    assert {r["monitor"] for r in incidents} == {"Core router", "Gateway ping"}
    checks = rows_of(client.get(f"/customers/{world.c1.public_id}/monitor-checks.csv"))
    assert {r["monitor"] for r in checks} == {"Core router", "Gateway ping"}


def test_exports_refuse_a_bad_range_and_unknown_kinds(world: World):
    client = world.client("operator")
    url = f"/monitors/{world.monitor_c1.public_id}"
    response = client.get(f"{url}/checks.csv", {"start": "2026-05-02", "end": "2026-05-01"})
    assert response.status_code == 400 and b"must not come after" in response.content
    assert client.get(f"{url}/checks.csv", {"start": "yesterday"}).status_code == 400
    assert client.get(f"{url}/passwords.csv").status_code == 404


def test_a_customer_user_cannot_export_another_customers_monitor(world: World):
    response = world.client("customer").get(f"/monitors/{world.monitor_c2.public_id}/checks.csv")
    assert response.status_code == 404


def test_an_export_cell_cannot_become_a_formula(world: World):
    m = Monitor.objects.create(customer=world.c1, name="=HYPERLINK(1)", hostname="127.0.0.1")
    CheckResult.objects.create(
        monitor=m, location=Location.default(), due_at=timezone.now(), status="down"
    )
    rows = rows_of(world.client("operator").get(f"/monitors/{m.public_id}/checks.csv"))
    assert rows[0]["monitor"] == "'=HYPERLINK(1)"


def test_the_monitor_list_shows_each_monitors_uptime(world: World):
    m = make_monitor(world)
    play(m, [UP, UP, UP, DOWN], start=timezone.now() - timedelta(minutes=10))
    client = world.client("viewer")
    html = client.get("/monitors/", {"q": "Core router"}).content.decode()
    assert "75 % / 75 %" in html
