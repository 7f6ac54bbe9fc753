"""The customer-facing side of monitor history: the customer's monitors page, the public status
page and the monthly availability report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitors import availability, uptime
from monitors.models import Incident, Monitor, Period, Rollup, StatusPage
from portal.models import AuditEvent, Customer, CustomerAccess
from tests.conftest import PASSWORD, World


def login(username: str) -> tuple[Client, str]:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": PASSWORD}, follow=True
    )
    return client, response.redirect_chain[-1][0]


def rollup(monitor: Monitor, period: int, start: datetime, **fields: float) -> Rollup:
    return Rollup(monitor=monitor, period=period, start=start, **fields)


def incident(monitor: Monitor, opened: datetime, closed: datetime | None, **fields) -> Incident:
    return Incident(
        monitor=monitor,
        severity=fields.pop("severity", "down"),
        state="closed" if closed else "open",
        started_at=opened,
        opened_at=opened,
        closed_at=closed,
        **fields,
    )


def without_world_history(world: World) -> None:
    """The shared world opens an incident and a maintenance window on monitor_c1; tests that
    count them start clean."""
    Incident.objects.filter(monitor=world.monitor_c1).delete()
    world.monitor_c1.maintenance_windows.all().delete()


# --- the customer's monitors page ------------------------------------------------------------


def test_customer_user_lands_on_their_monitors_page(world: World):
    client, landed = login("customer")
    assert landed == f"/customers/{world.c1.public_id}/monitors/"
    html = client.get(landed).content.decode()
    assert "Gateway ping" in html and "Router ping" not in html
    assert 'hx-trigger="every 30s"' in html
    assert f'href="/monitors/{world.monitor_c1.public_id}/"' in html
    for control in ("Edit", "Pause", "Delete", "New monitor"):
        assert control not in html


def test_customer_user_with_two_customers_still_lands_on_the_list(world: World):
    CustomerAccess.objects.create(user=world.users["customer"], customer=world.c2)
    _, landed = login("customer")
    assert landed == "/customers/"


def test_the_page_refreshes_only_its_live_part(world: World):
    response = world.client("customer").get(
        f"/customers/{world.c1.public_id}/monitors/", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html and "Gateway ping" in html and "Recent incidents" in html


def test_uptime_figures_rendered_match_uptime_uptimes(world: World):
    now = timezone.now()
    monitor = world.monitor_c1
    Rollup.objects.bulk_create(
        [
            # 24 h from minute rollups: 45 of 60 s up.
            rollup(
                monitor, Period.MINUTE, now - timedelta(minutes=10), up_seconds=45, down_seconds=15
            ),
            # 7, 30 and 90 days from hour rollups, each older one lowering or raising the figure.
            rollup(
                monitor, Period.HOUR, now - timedelta(days=2), up_seconds=3000, down_seconds=600
            ),
            rollup(monitor, Period.HOUR, now - timedelta(days=10), up_seconds=3600),
            rollup(
                monitor, Period.HOUR, now - timedelta(days=40), up_seconds=1800, down_seconds=1800
            ),
        ]
    )
    html = world.client("customer").get(f"/customers/{world.c1.public_id}/monitors/")
    html = html.content.decode()
    expected = uptime.uptimes([monitor.pk], timezone.now())[monitor.pk]
    shown = [
        f"{floatformat(expected[name].percent, '-3')} %" for name in ("24h", "7d", "30d", "90d")
    ]
    assert shown == ["75 %", "83.333 %", "91.667 %", "77.778 %"]
    row = html[html.index("<strong>Gateway ping</strong>") :]
    row = row[: row.index("</tr>")]
    assert [f"{p} %" for p in re.findall(r"([\d.]+) %</td>", row)][-4:] == shown


def test_page_costs_the_same_few_queries_whatever_the_number_of_monitors(world: World):
    client = world.client("customer")
    url = f"/customers/{world.c1.public_id}/monitors/"
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    Monitor.objects.bulk_create(
        [
            Monitor(customer=world.c1, organization=world.org, name=f"M{i}", hostname="127.0.0.1")
            for i in range(5)
        ]
    )
    with CaptureQueriesContext(connection) as six:
        client.get(url)
    assert len(six) == len(one)
    assert sum("monitors_rollup" in q["sql"] for q in six.captured_queries) == 2


def test_open_incidents_come_first_then_the_recent_closed_ones(world: World):
    now = timezone.now()
    Incident.objects.bulk_create(
        [
            incident(
                world.monitor_c1,
                now - timedelta(days=3),
                now - timedelta(days=3) + timedelta(minutes=90),
                severity="degraded",
            ),
            incident(world.monitor_c2, now - timedelta(days=1), now),  # another customer's
        ]
    )
    html = world.client("customer").get(f"/customers/{world.c1.public_id}/monitors/")
    html = html.content.decode()
    table = html.index("<strong>Gateway ping</strong>")
    assert html.index("Open incidents") < table < html.index("Recent incidents")
    recent = html[html.index("Recent incidents") :]
    assert "1 h 30 min" in recent and "Degraded" in recent and "Router ping" not in recent


def test_states_show_maintenance_and_paused(world: World):
    without_world_history(world)
    paused = Monitor.objects.create(
        customer=world.c1, name="Old link", hostname="127.0.0.9", status="disabled"
    )
    world.monitor_c1.status = "maintenance"
    world.monitor_c1.save()
    now = timezone.now()
    found = availability.states([world.monitor_c1, paused], now)
    assert found == {world.monitor_c1.pk: "maintenance", paused.pk: "paused"}


@pytest.mark.parametrize(
    "states,verdict",
    [
        (["up", "up", "paused"], "operational"),
        (["up", "degraded"], "partial"),
        (["up", "down"], "partial"),
        (["down", "down", "maintenance", "paused"], "major"),
        (["up", "maintenance"], "maintenance"),
        ([], "operational"),
    ],
)
def test_the_overall_verdict_follows_the_worst_state(states, verdict):
    assert availability.overall(states).key == verdict


def test_staff_reach_the_page_from_the_customer_page(world: World):
    client = world.client("viewer")
    html = client.get(f"/customers/{world.c1.public_id}/").content.decode()
    url = f"/customers/{world.c1.public_id}/monitors/"
    assert f'href="{url}"' in html
    assert client.get(url).status_code == 200


# --- the status page -------------------------------------------------------------------------


def set_up_status(world: World, **fields) -> StatusPage:
    response = world.client("admin").post(
        f"/customers/{world.c1.public_id}/status-page/",
        {"mode": "public", "title": "", "slug": "northwind", **fields},
    )
    assert response.status_code == 302, response.content.decode()
    return StatusPage.objects.get(customer=world.c1)


def test_status_page_is_off_by_default_and_off_looks_like_nothing(world: World):
    anon = Client()
    assert anon.get("/status/northwind/").status_code == 404
    page = StatusPage.objects.create(customer=world.c1, slug="northwind")
    assert page.mode == "off"
    off = anon.get("/status/northwind/")
    missing = anon.get("/status/no-such-page/")
    assert off.status_code == missing.status_code == 404
    assert anon.get(f"/status/s/{page.token}/").status_code == 404

    def body(r) -> str:
        return re.sub(r'"X-CSRFToken": "[^"]*"', "", r.content.decode())

    assert body(off) == body(missing)


def test_public_status_page_shows_names_states_and_uptime_and_nothing_internal(world: World):
    without_world_history(world)
    now = timezone.now()
    gateway = world.monitor_c1
    gateway.hostname = "10.20.30.40"
    gateway.health = "down"
    gateway.save()
    core = Monitor.objects.create(
        customer=world.c1, name="Core gateway", hostname="gw.internal.example", health="up"
    )
    Monitor.objects.create(
        customer=world.c1, name="Old link", hostname="127.0.0.9", status="disabled"
    )
    today = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    Rollup.objects.bulk_create(
        [
            rollup(gateway, Period.DAY, today - timedelta(days=1), up_seconds=86400),
            rollup(
                gateway,
                Period.DAY,
                today - timedelta(days=2),
                up_seconds=43200,
                down_seconds=43200,
                histogram={"1": 5},
            ),
        ]
    )
    Incident.objects.bulk_create(
        [
            incident(
                gateway,
                now - timedelta(days=2),
                now - timedelta(days=2) + timedelta(minutes=12),
                last_error="no reply from 10.20.30.40",
            ),
            incident(core, now - timedelta(days=20), now - timedelta(days=19)),  # too old
        ]
    )
    page = set_up_status(world)
    event = AuditEvent.objects.get(action="statuspage.create")
    assert event.actor == world.users["admin"] and event.details["mode"] == "public"

    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/status/northwind/")
    assert response.status_code == 200
    assert response["Cache-Control"] in ("public, max-age=60", "max-age=60, public")
    assert "X-Robots-Tag" not in response
    html = response.content.decode()
    assert "<h1>Northwind</h1>" in html and "Major outage" not in html
    assert "Partial outage" in html  # one of two counted monitors is down
    assert "Gateway ping" in html and "Core gateway" in html and "Old link" not in html
    assert "12 min" in html and "50.00 % up" in html
    bars = html[html.index('class="uptime-bar"') : html.index('class="bar-keys"')]
    assert bars.count('class="up"') == 1 and bars.count('class="major"') == 1
    for secret in (
        "10.20.30.40",
        "gw.internal.example",
        str(gateway.public_id),
        str(core.public_id),
        str(world.c1.public_id),
        world.org.name,
        page.token,
        "admin@example.test",
        "no reply",
    ):
        assert secret not in html, secret
    assert "<a " not in html and "<form" not in html and "<script" not in html
    rollup_queries = [q["sql"] for q in queries.captured_queries if "monitors_rollup" in q["sql"]]
    # Two for the uptime figures, one for the 90 daily bars (time columns only).
    assert len(rollup_queries) == 3 and not any("histogram" in q for q in rollup_queries)


def test_secret_link_works_in_secret_and_public_modes_and_asks_not_to_be_indexed(world: World):
    page = set_up_status(world, mode="secret", title="Northwind services")
    anon = Client()
    assert anon.get("/status/northwind/").status_code == 404
    response = anon.get(f"/status/s/{page.token}/")
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex"
    # A retired secret link must not live on in a cache.
    assert "no-store" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert "<h1>Northwind services</h1>" in response.content.decode()
    set_up_status(world, mode="public")
    assert anon.get(f"/status/s/{page.token}/").status_code == 200
    assert anon.get("/status/northwind/").status_code == 200
    set_up_status(world, mode="off")
    assert anon.get(f"/status/s/{page.token}/").status_code == 404
    assert anon.get("/status/northwind/").status_code == 404


def test_a_new_secret_link_makes_the_old_one_404(world: World):
    page = set_up_status(world, mode="secret")
    old = page.token
    response = world.client("admin").post(
        f"/customers/{world.c1.public_id}/status-page/", {"new_token": "1"}
    )
    assert response.status_code == 302
    page.refresh_from_db()
    assert page.token != old
    assert Client().get(f"/status/s/{old}/").status_code == 404
    assert Client().get(f"/status/s/{page.token}/").status_code == 200
    event = AuditEvent.objects.get(action="statuspage.new_token")
    assert old not in str(event.details) and page.token not in str(event.details)


@pytest.mark.parametrize(
    "actor,status",
    [("operator", 403), ("viewer", 403), ("customer", 403), ("supporter", 403), ("outsider", 404)],
)
def test_only_organization_admins_may_change_the_status_page(world: World, actor, status):
    url = f"/customers/{world.c1.public_id}/status-page/"
    data = {"mode": "public", "title": "", "slug": "northwind"}
    assert world.client(actor).post(url, data).status_code == status
    assert world.client(actor).post(url, {"new_token": "1"}).status_code == status
    assert not StatusPage.objects.exists()


def test_settings_refuse_an_address_another_page_has(world: World):
    StatusPage.objects.create(customer=world.c2, slug="northwind")
    response = world.client("admin").post(
        f"/customers/{world.c1.public_id}/status-page/",
        {"mode": "public", "title": "", "slug": "northwind"},
    )
    assert response.status_code == 400 and "already exists" in response.content.decode()
    assert not StatusPage.objects.filter(customer=world.c1).exists()


def test_admins_see_the_settings_on_the_customer_page_and_others_only_the_state(world: World):
    page = set_up_status(world, mode="public")
    url = f"/customers/{world.c1.public_id}/"
    admin_html = world.client("admin").get(url).content.decode()
    assert "Save status page" in admin_html and "New secret link" in admin_html
    assert page.token in admin_html and "/status/northwind/" in admin_html
    for actor in ("operator", "customer"):
        html = world.client(actor).get(url).content.decode()
        assert "/status/northwind/" in html
        assert "Save status page" not in html and page.token not in html


def test_the_admin_shows_the_token_read_only(world: World):
    page = StatusPage.objects.create(customer=world.c1, slug="northwind")
    html = world.client("admin").get(f"/admin/monitors/statuspage/{page.pk}/change/")
    html = html.content.decode()
    assert page.token in html and 'name="token"' not in html


# --- the monthly report ----------------------------------------------------------------------


def _march_2024(world: World) -> Monitor:
    """A customer and monitor that have existed since January 2024, with a hand-made March."""
    without_world_history(world)
    since = datetime(2024, 1, 1, tzinfo=UTC)
    Customer.objects.filter(pk=world.c1.pk).update(created_at=since)
    Monitor.objects.filter(pk=world.monitor_c1.pk).update(created_at=since)
    monitor = world.monitor_c1
    day = lambda d: datetime(2024, 3, d, tzinfo=UTC)  # noqa: E731
    Rollup.objects.bulk_create(
        [
            rollup(
                monitor,
                Period.DAY,
                day(1),
                up_seconds=86000,
                down_seconds=400,
                checks=1440,
                sent=4320,
                received=4300,
            ),
            rollup(
                monitor,
                Period.DAY,
                day(2),
                up_seconds=80000,
                degraded_seconds=2400,
                maintenance_seconds=4000,
                checks=1440,
                sent=4320,
                received=4320,
            ),
            # Outside the month, or not a day rollup: not counted.
            rollup(
                monitor,
                Period.DAY,
                datetime(2024, 2, 29, tzinfo=UTC),
                down_seconds=86400,
                checks=9,
                sent=9,
            ),
            rollup(
                monitor,
                Period.DAY,
                datetime(2024, 4, 1, tzinfo=UTC),
                down_seconds=86400,
                checks=9,
                sent=9,
            ),
            rollup(monitor, Period.HOUR, day(1), down_seconds=3600, checks=60, sent=180),
        ]
    )
    at = lambda d, h, m=0: datetime(2024, 3, d, h, m, tzinfo=UTC)  # noqa: E731
    Incident.objects.bulk_create(
        [
            incident(monitor, at(1, 10), at(1, 10, 5)),
            incident(monitor, at(2, 12), at(2, 13, 30), severity="degraded"),
            # Began in February, ended in March: part of both months.
            incident(monitor, datetime(2024, 2, 29, 23, tzinfo=UTC), at(1, 1)),
            incident(monitor, datetime(2024, 2, 10, tzinfo=UTC), datetime(2024, 2, 11, tzinfo=UTC)),
        ]
    )
    return monitor


def test_report_figures_of_a_hand_made_month_add_up(world: World):
    monitor = _march_2024(world)
    response = world.client("customer").get(f"/customers/{world.c1.public_id}/report/2024-03/")
    assert response.status_code == 200
    report = response.context["report"]
    row = next(r for r in report.rows if r.monitor == monitor)
    counted = 86000 + 400 + 80000 + 2400
    assert row.uptime.percent == pytest.approx(100 * (86000 + 80000 + 2400) / counted)
    assert row.uptime.downtime == timedelta(seconds=400)
    assert row.uptime.maintenance_time == timedelta(seconds=4000)
    assert (row.checks, row.sent, row.received) == (2880, 8640, 8620)
    assert row.loss_percent == pytest.approx(100 * 20 / 8640)
    assert len(row.incidents) == 3 and row.longest == timedelta(hours=2)
    html = response.content.decode()
    for figure in ("99.763 %", "6 min 40 s", "1 h 6 min", "2880", "0.23 %", "1 h 30 min", "2 h"):
        assert figure in html, figure
    assert "Router ping" not in html  # another customer's monitor


def test_report_queries_the_day_rollups_and_not_the_histograms(world: World):
    _march_2024(world)
    client = world.client("viewer")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/customers/{world.c1.public_id}/report/2024-03/")
    rollup_queries = [q["sql"] for q in queries.captured_queries if "monitors_rollup" in q["sql"]]
    assert len(rollup_queries) == 2 and not any("histogram" in q for q in rollup_queries)


def test_a_future_month_says_there_is_no_data(world: World):
    year = timezone.now().year + 1
    response = world.client("customer").get(f"/customers/{world.c1.public_id}/report/{year}-01/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no data for January" in html and "has not begun" in html


def test_a_month_before_the_customer_existed_says_there_is_no_data(world: World):
    response = world.client("admin").get(f"/customers/{world.c1.public_id}/report/2001-05/")
    assert (
        response.status_code == 200 and "There is no data for May 2001" in response.content.decode()
    )


@pytest.mark.parametrize("month", ["2024-13", "2024-0", "0-05"])
def test_a_month_that_does_not_exist_is_not_found(world: World, month: str):
    response = world.client("customer").get(f"/customers/{world.c1.public_id}/report/{month}/")
    assert response.status_code == 404


def test_customer_user_reads_only_their_own_report(world: World):
    client = world.client("customer")
    now = timezone.now()
    month = f"{now.year}-{now.month:02d}"
    assert client.get(f"/customers/{world.c1.public_id}/report/{month}/").status_code == 200
    assert client.get(f"/customers/{world.c2.public_id}/report/{month}/").status_code == 404


def test_report_is_linked_from_the_customer_pages_and_prints_without_navigation(world: World):
    now = timezone.now()
    link = f"/customers/{world.c1.public_id}/report/{now.year}-{now.month:02d}/"
    assert (
        link
        in world.client("customer")
        .get(f"/customers/{world.c1.public_id}/monitors/")
        .content.decode()
    )
    assert link in world.client("admin").get(f"/customers/{world.c1.public_id}/").content.decode()
    from django.contrib.staticfiles import finders

    css = open(finders.find("portal/app.css")).read()  # noqa: SIM115
    print_rules = css[css.index("@media print") :]
    assert "size: A4" in print_rules and "header.topbar" in print_rules
