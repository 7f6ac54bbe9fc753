"""SmokePing-style charts of an ICMP monitor: the series behind them, the SVG, the page section,
the image and the JSON, and what a long history costs (nothing more than a short one)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitors.charts import smoke_svg
from monitors.models import (
    CheckResult,
    Incident,
    Location,
    MaintenanceWindow,
    Monitor,
    Period,
    Rollup,
)
from monitors.series import RANGES, Point, Series, chart_series
from tests.conftest import World

SVG_NS = "{http://www.w3.org/2000/svg}"
LEFT, PLOT_W = 48, 720 - 48 - 10  # the chart's plot area at the default size


def floor(at: datetime, seconds: int) -> datetime:
    stamp = int(at.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


def rollups(monitor: Monitor, period: int, starts, **values) -> None:
    defaults = {
        "checks": 1,
        "sent": 3,
        "received": 3,
        "rtt_min": 1.0,
        "rtt_max": 3.0,
        "rtt_sum": 6.0,
        "rtt_p50": 2.0,
        "rtt_p90": 3.0,
        "up_seconds": float(period),
    }
    Rollup.objects.bulk_create(
        [
            Rollup(monitor=monitor, period=period, start=start, **{**defaults, **values})
            for start in starts
        ],
        batch_size=2000,
    )


def checks(monitor: Monitor, dues, location: Location | None = None, **values) -> None:
    location = location or Location.default()
    defaults = {
        "sent": 3,
        "received": 3,
        "loss_percent": 0.0,
        "rtt_min": 1.0,
        "rtt_avg": 2.0,
        "rtt_max": 3.0,
        "rtts": [1.0, 2.0, 3.0],
        "status": "up",
    }
    CheckResult.objects.bulk_create(
        [
            CheckResult(monitor=monitor, location=location, due_at=due, **{**defaults, **values})
            for due in dues
        ],
        batch_size=2000,
    )


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def plot_of(svg: str) -> ET.Element:
    plot = parse(svg).find(f"{SVG_NS}g[@class='plot']")
    assert plot is not None
    return plot


def shaded(svg: str, cls: str) -> list[tuple[float, float]]:
    """(x, x + width) of the plot's shading rects of one class."""
    return [
        (float(r.get("x")), float(r.get("x")) + float(r.get("width")))
        for r in plot_of(svg).iter(f"{SVG_NS}rect")
        if r.get("class") == cls
    ]


def x_of(at: datetime, start: datetime, span: timedelta) -> float:
    return LEFT + (at - start) / span * PLOT_W


# --- the series: which table answers which range ----------------------------------------------


def test_each_range_reads_its_own_table(world: World):
    monitor = world.monitor_c1
    CheckResult.objects.filter(monitor=monitor).delete()
    now = floor(timezone.now(), 60) + timedelta(seconds=30)
    # Every source says something different: the checks 4 ms, minutes 1, hours 2, days 3.
    checks(monitor, [now - timedelta(minutes=m) for m in range(1, 30)], rtts=[4.0, 4.0, 5.0])
    rollups(monitor, Period.MINUTE, [floor(now, 60) - timedelta(minutes=m) for m in range(600)])
    rollups(
        monitor,
        Period.HOUR,
        [floor(now, 3600) - timedelta(hours=h) for h in range(700)],
        rtt_p50=20.0,
    )
    rollups(
        monitor,
        Period.DAY,
        [floor(now, 86400) - timedelta(days=d) for d in range(300)],
        rtt_p50=30.0,
    )
    expected = {"1h": 4.0, "24h": 2.0, "7d": 20.0, "30d": 20.0, "1y": 30.0}
    tables = {"1h": "monitors_checkresult", **dict.fromkeys(["24h", "7d", "30d", "1y"], "rollup")}
    for key, p50 in expected.items():
        with CaptureQueriesContext(connection) as queries:
            series = chart_series(monitor, key, now=now)
        assert series.points and {p.rtt_p50 for p in series.points} == {p50}, key
        assert all(p.end > series.start and p.start <= series.end for p in series.points)
        read = [
            q["sql"] for q in queries if "monitors_checkresult" in q["sql"] or "rollup" in q["sql"]
        ]
        assert len(read) == 1 and tables[key] in read[0], key
        if RANGES[key].period:
            assert f'"period" = {RANGES[key].period}' in read[0]
    assert len(chart_series(monitor, "7d", now=now).points) == 7 * 24 + 1
    assert len(chart_series(monitor, "1y", now=now).points) == 300


def test_checks_of_one_slot_merge_and_the_median_is_their_replies_median(world: World):
    monitor = world.monitor_c1
    CheckResult.objects.filter(monitor=monitor).delete()
    due = floor(timezone.now(), 60) - timedelta(minutes=5)
    frankfurt = Location.objects.create(code="fra", name="Frankfurt", country="DE")
    checks(monitor, [due], rtts=[1.0, 2.0, 3.0], rtt_min=1.0, rtt_max=3.0)
    checks(
        monitor,
        [due],
        frankfurt,
        rtts=[10.0, None, 20.0],
        received=2,
        loss_percent=33.3,
        rtt_min=10.0,
        rtt_max=20.0,
    )
    (point,) = chart_series(monitor, "1h").points
    assert (point.checks, point.sent, point.received) == (2, 6, 5)
    assert point.rtt_p50 == 3.0 and point.rtt_min == 1.0 and point.rtt_max == 20.0
    assert point.rtt_avg == pytest.approx(36 / 5) and point.loss_percent == pytest.approx(100 / 6)
    assert point.end - point.start == monitor.interval and point.up_seconds == 2 * 300


# --- a long history costs what a short one does ----------------------------------------------


def _history_sql(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if "monitors_checkresult" in q["sql"] or "monitors_rollup" in q["sql"]
    ]


def _is_bounded(sql: str) -> bool:
    if "LIMIT" not in sql:
        return False
    if "monitors_rollup" in sql:
        return '"monitors_rollup"."start" >' in sql and '"monitors_rollup"."start" <=' in sql
    return (
        '"monitors_checkresult"."due_at" >=' in sql and '"monitors_checkresult"."due_at" <=' in sql
    )


@pytest.fixture
def short_and_long(world: World) -> tuple[Monitor, Monitor]:
    """monitor_c1 with a day of history; monitor_c2 with a year of hours and days, weeks of
    minutes, and more checks in the last hour than the chart reads plus thousands before it."""
    now = timezone.now()
    short, long = world.monitor_c1, world.monitor_c2
    minute, hour, day = floor(now, 60), floor(now, 3600), floor(now, 86400)
    checks(short, [now - timedelta(minutes=m) for m in range(1, 60, 5)])
    rollups(short, Period.MINUTE, [minute - timedelta(minutes=m) for m in range(0, 1440, 5)])
    rollups(short, Period.HOUR, [hour - timedelta(hours=h) for h in range(24)])
    rollups(short, Period.DAY, [day])

    checks(long, [now - timedelta(seconds=1.5 * i) for i in range(1, 2300)])
    checks(long, [now - timedelta(hours=2, minutes=m) for m in range(4000)])
    rollups(long, Period.MINUTE, [minute - timedelta(minutes=m) for m in range(8 * 1440)])
    rollups(long, Period.HOUR, [hour - timedelta(hours=h) for h in range(400 * 24)])
    rollups(long, Period.DAY, [day - timedelta(days=d) for d in range(800)])
    Incident.objects.bulk_create(
        [
            Incident(
                monitor=long,
                severity="down",
                state="closed",
                started_at=now - timedelta(hours=h, minutes=5),
                opened_at=now - timedelta(hours=h, minutes=5),
                closed_at=now - timedelta(hours=h),
            )
            for h in range(1, 2000, 3)
        ]
    )
    return short, long


@pytest.mark.parametrize("key", list(RANGES))
def test_a_long_history_costs_the_same_queries_and_points_as_one_day(
    world: World, short_and_long, key
):
    short, long = short_and_long
    client = world.client("viewer")
    counts = {}
    for label, monitor in (("short", short), ("long", long)):
        image = f"/monitors/{monitor.public_id}/chart.svg?range={key}"
        api = f"/api/icmp-monitors/{monitor.public_id}/chart?range={key}"
        with CaptureQueriesContext(connection) as svg_queries:
            svg = client.get(image)
        with CaptureQueriesContext(connection) as json_queries:
            body = client.get(api)
        assert svg.status_code == 200 and body.status_code == 200
        counts[label] = (len(svg_queries), len(json_queries))
        for queries in (svg_queries, json_queries):
            history = _history_sql(queries)
            assert len(history) == 1, history
            assert _is_bounded(history[0]), history[0]
        data = body.json()
        assert 0 < len(data["points"]) <= RANGES[key].limit
        assert len(data["incidents"]) <= 200
        start = datetime.fromisoformat(data["start"])
        period = timedelta(seconds=RANGES[key].period or 0)
        assert all(datetime.fromisoformat(p["start"]) > start - period for p in data["points"])
        # The drawing is bounded too: at most a column per two pixels.
        band = parse(svg.content.decode()).iter(f"{SVG_NS}polygon")
        assert sum(len(b.get("points").split()) for b in band) <= 4 * (PLOT_W // 2)
    assert counts["short"] == counts["long"]
    if key == "1h":
        assert (
            len(client.get(f"/api/icmp-monitors/{long.public_id}/chart?range=1h").json()["points"])
            == 1500
        )


# --- the drawing ----------------------------------------------------------------------------


def series_of(points: list[Point], key: str = "24h", **extra) -> Series:
    end = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    rng = RANGES[key]
    return Series(
        range=rng,
        start=end - rng.span,
        end=end,
        resolution=timedelta(minutes=1),
        points=points,
        title="Gateway",
        **extra,
    )


def point(start: datetime, loss: float, **seconds: float) -> Point:
    received = round(100 - loss)
    return Point(
        start=start,
        end=start + timedelta(minutes=1),
        checks=1,
        sent=100,
        received=received,
        rtt_min=1.0 if received else None,
        rtt_p50=2.0 if received else None,
        rtt_max=3.0 if received else None,
        rtt_avg=2.0 if received else None,
        loss_percent=loss,
        **({"up_seconds": 60.0} | seconds),
    )


def test_the_median_is_coloured_by_loss_and_total_loss_draws_no_line_but_shades_down():
    end = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    losses = [0.0, 3.0, 10.0, 50.0, 100.0]
    points = [point(end - timedelta(hours=10 - 2 * i), loss) for i, loss in enumerate(losses)]
    svg = smoke_svg(series_of(points))
    lines = [p.get("class") for p in plot_of(svg).iter(f"{SVG_NS}polyline")]
    assert lines == ["med loss-0", "med loss-5", "med loss-20", "med loss-high"]
    (down,) = shaded(svg, "down")
    start = end - timedelta(hours=24)
    assert down[0] == pytest.approx(
        x_of(end - timedelta(hours=2), start, timedelta(hours=24)), abs=2
    )


def test_a_run_of_one_colour_is_one_line_and_gaps_break_it():
    end = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    first = [point(end - timedelta(hours=20) + timedelta(minutes=m), 0.0) for m in range(60)]
    second = [point(end - timedelta(hours=5) + timedelta(minutes=m), 0.0) for m in range(60)]
    svg = smoke_svg(series_of(first + second))
    assert len(list(plot_of(svg).iter(f"{SVG_NS}polyline"))) == 2
    assert len(list(plot_of(svg).iter(f"{SVG_NS}polygon"))) == 2


def test_down_and_maintenance_time_is_shaded_where_it_happened(world: World):
    monitor = world.monitor_c1
    monitor.check_interval_seconds = 60
    monitor.save()
    MaintenanceWindow.objects.filter(customer=monitor.customer).delete()
    now = floor(timezone.now(), 60)
    start, span = now - timedelta(hours=24), timedelta(hours=24)
    minutes = {m: floor(now, 60) - timedelta(minutes=m) for m in range(1, 1440)}
    down = set(range(600, 620))
    maintenance = set(range(300, 330))
    rollups(monitor, Period.MINUTE, [minutes[m] for m in minutes if m not in down | maintenance])
    rollups(
        monitor,
        Period.MINUTE,
        [minutes[m] for m in down],
        received=0,
        rtt_min=None,
        rtt_max=None,
        rtt_sum=0.0,
        rtt_p50=None,
        up_seconds=0.0,
        down_seconds=60.0,
    )
    rollups(
        monitor,
        Period.MINUTE,
        [minutes[m] for m in maintenance],
        up_seconds=0.0,
        maintenance_seconds=60.0,
    )
    window = MaintenanceWindow.objects.create(
        customer=monitor.customer,
        monitor=monitor,
        starts_at=now - timedelta(minutes=100),
        ends_at=now - timedelta(minutes=90),
    )
    # Planned the day before (a window counts from when it was planned).
    MaintenanceWindow.objects.filter(pk=window.pk).update(created_at=now - timedelta(days=1))
    svg = smoke_svg(chart_series(monitor, "24h", now=now))
    (down_rect,) = shaded(svg, "down")
    assert down_rect[0] == pytest.approx(x_of(minutes[619], start, span), abs=3)
    assert down_rect[1] == pytest.approx(x_of(minutes[599], start, span), abs=3)
    assert all(x_of(minutes[621], start, span) - 3 <= lo for lo, _ in shaded(svg, "down-part"))
    window, column = sorted(shaded(svg, "maint"), reverse=True)
    assert window[0] == pytest.approx(x_of(now - timedelta(minutes=100), start, span), abs=1)
    assert window[1] == pytest.approx(x_of(now - timedelta(minutes=90), start, span), abs=1)
    assert column[0] == pytest.approx(x_of(minutes[329], start, span), abs=3)
    assert column[1] == pytest.approx(x_of(minutes[299], start, span), abs=3)


def test_incidents_in_the_range_are_marked_with_a_line_and_a_title(world: World):
    monitor = world.monitor_c1
    Incident.objects.filter(monitor=monitor).delete()
    now = timezone.now()
    Incident.objects.bulk_create(
        [
            Incident(  # long over before the range: not shown
                monitor=monitor,
                severity="down",
                state="closed",
                started_at=now - timedelta(days=3),
                opened_at=now - timedelta(days=3),
                closed_at=now - timedelta(days=2),
            ),
            Incident(
                monitor=monitor,
                severity="down",
                state="closed",
                started_at=now - timedelta(hours=6),
                opened_at=now - timedelta(hours=6),
                closed_at=now - timedelta(hours=5),
            ),
            Incident(
                monitor=monitor,
                severity="degraded",
                state="open",
                started_at=now - timedelta(hours=30),
                opened_at=now - timedelta(hours=30),
            ),
        ]
    )
    svg = smoke_svg(chart_series(monitor, "24h", now=now))
    marks = [g for g in plot_of(svg).iter(f"{SVG_NS}g") if "incident" in g.get("class", "")]
    assert [m.get("class") for m in marks] == ["incident sev-degraded", "incident sev-down"]
    degraded, down = marks
    assert "still open" in degraded.find(f"{SVG_NS}title").text
    assert degraded.find(f"{SVG_NS}line") is None  # opened before the range: only its bar
    assert float(degraded.find(f"{SVG_NS}rect").get("x")) == LEFT
    assert "closed" in down.find(f"{SVG_NS}title").text
    x = float(down.find(f"{SVG_NS}line").get("x1"))
    assert x == pytest.approx(LEFT + PLOT_W * 18 / 24, abs=1)


@pytest.mark.parametrize(
    "key,label",
    [
        ("1h", r"\d\d:\d0"),
        ("24h", r"\d\d:00"),
        ("7d", r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2}"),
        ("30d", r"Mon \d{1,2} [A-Z][a-z]{2}"),
        ("1y", r"[A-Z][a-z]{2}|\d{4}"),
    ],
)
def test_time_labels_suit_the_range(key, label):
    svg = smoke_svg(series_of([], key))
    texts = [t.text for t in plot_of(svg).iter(f"{SVG_NS}text") if t.get("text-anchor") == "middle"]
    times = [t for t in texts if t != "No checks in this range"]
    assert 3 <= len(times) <= 13 and all(re.fullmatch(label, t) for t in times), times


def test_the_y_axis_is_in_ms_and_a_legend_names_the_colours():
    end = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    svg = smoke_svg(series_of([point(end - timedelta(hours=1), 0.0)]))
    root = parse(svg)
    assert "ms" in [t.text for t in root.iter(f"{SVG_NS}text")]
    legend = "".join(t.text for t in root.find(f"{SVG_NS}g[@class='legend']").iter(f"{SVG_NS}text"))
    assert all(word in legend for word in ("0 % loss", "> 20 %", "down", "maintenance", "incident"))
    assert root.get("viewBox") == "0 0 720 220" and "latency-chart" in root.get("class")


def test_the_standalone_image_carries_its_own_style_and_title():
    svg = smoke_svg(series_of([]), standalone=True)
    root = parse(svg)
    assert "Gateway" in root.find(f"{SVG_NS}title").text
    assert ".loss-high" in root.find(f"{SVG_NS}style").text
    assert parse(smoke_svg(series_of([]))).find(f"{SVG_NS}style") is None


# --- the endpoints and the page ---------------------------------------------------------------


def test_a_name_with_a_script_tag_is_escaped_everywhere(world: World):
    monitor = world.monitor_c1
    monitor.name = '<script>alert("x")</script>'
    monitor.save()
    client = world.client("viewer")
    image = client.get(f"/monitors/{monitor.public_id}/chart.svg").content.decode()
    page = client.get(f"/monitors/{monitor.public_id}/").content.decode()
    for html in (image, page):
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    parse(image)  # still well-formed


def test_the_image_is_an_svg_file_with_its_own_policy(world: World):
    response = world.client("viewer").get(f"/monitors/{world.monitor_c1.public_id}/chart.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "style-src 'unsafe-inline'" in response["Content-Security-Policy"]
    root = parse(response.content.decode())
    assert root.find(f"{SVG_NS}style") is not None and "24 hours" in root.get("aria-label")


def test_the_json_has_the_documented_shape(world: World):
    monitor = world.monitor_c1
    now = timezone.now()
    rollups(monitor, Period.HOUR, [floor(now, 3600) - timedelta(hours=h) for h in range(5)])
    body = world.client("key_ro").get(f"/api/icmp-monitors/{monitor.public_id}/chart?range=7d")
    data = body.json()
    assert set(data) == {"range", "start", "end", "points", "incidents", "maintenance"}
    assert data["range"] == "7d" and len(data["points"]) == 5
    assert set(data["points"][0]) == {
        "start",
        "end",
        "checks",
        "sent",
        "received",
        "lossPercent",
        "rttMin",
        "rttP50",
        "rttAvg",
        "rttMax",
        "downSeconds",
        "maintenanceSeconds",
    }
    assert data["points"][0]["rttAvg"] == 2.0 and data["points"][0]["lossPercent"] == 0.0


def test_an_unknown_range_is_refused_with_a_clear_message(world: World):
    client = world.client("viewer")
    public_id = world.monitor_c1.public_id
    image = client.get(f"/monitors/{public_id}/chart.svg?range=2d")
    assert image.status_code == 400 and image["Content-Type"].startswith("text/plain")
    assert "Unknown range '2d': use one of 1h, 24h, 7d, 30d, 1y." in image.content.decode()
    section = client.get(f"/monitors/{public_id}/chart/?range=2d", HTTP_HX_REQUEST="true")
    assert section.status_code == 400
    api = client.get(f"/api/icmp-monitors/{public_id}/chart?range=2d")
    assert api.status_code == 400
    assert api.json()["statusCode"] == 400 and "Unknown range" in api.json()["errors"]["range"][0]


def test_another_organizations_monitor_is_not_found_by_the_image_or_the_json(world: World):
    for actor, monitor in (("viewer", world.other_monitor), ("outsider", world.monitor_c1)):
        client = world.client(actor)
        assert client.get(f"/monitors/{monitor.public_id}/chart.svg").status_code == 404
        api = client.get(f"/api/icmp-monitors/{monitor.public_id}/chart")
        assert api.status_code == 404 and api.json()["statusCode"] == 404


def test_a_customer_user_sees_their_own_monitors_chart_and_no_other(world: World):
    client = world.client("customer")
    own, other = world.monitor_c1.public_id, world.monitor_c2.public_id
    assert client.get(f"/monitors/{own}/chart.svg?range=7d").status_code == 200
    assert client.get(f"/api/icmp-monitors/{own}/chart?range=1h").json()["range"] == "1h"
    assert client.get(f"/monitors/{other}/chart.svg").status_code == 404
    assert client.get(f"/api/icmp-monitors/{other}/chart").status_code == 404


def test_the_page_has_a_chart_with_range_tabs_and_links(world: World):
    client = world.client("viewer")
    public_id = world.monitor_c1.public_id
    html = client.get(f"/monitors/{public_id}/?range=7d").content.decode()
    assert 'id="monitor-chart"' in html and 'class="latency-chart"' in html
    for key in RANGES:
        assert f'hx-get="/monitors/{public_id}/chart/?range={key}"' in html
    assert re.search(r'aria-current="true">7d<', html)
    assert f'href="/monitors/{public_id}/chart.svg?range=7d">SVG image<' in html
    assert f'href="/api/icmp-monitors/{public_id}/chart?range=7d">JSON<' in html


def test_a_range_tab_swaps_in_only_the_chart_section(world: World):
    client = world.client("viewer")
    public_id = world.monitor_c1.public_id
    part = client.get(
        f"/monitors/{public_id}/chart/?range=1y",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="monitor-chart",
    ).content.decode()
    assert part.lstrip().startswith(("{#", "<section")) and "<html" not in part
    assert "Recent checks" not in part and re.search(r'aria-current="true">1y<', part)
    assert "1 year" in part
    # Without HTMX (a link opened in a new tab) it is the whole page.
    assert "<html" in client.get(f"/monitors/{public_id}/chart/?range=1y").content.decode()


def test_the_live_refresh_keeps_the_chart_as_it_is(world: World):
    client = world.client("viewer")
    public_id = world.monitor_c1.public_id
    with CaptureQueriesContext(connection) as queries:
        live = client.get(
            f"/monitors/{public_id}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="monitor-live"
        ).content.decode()
    assert '<section id="monitor-chart" hx-preserve="true"></section>' in live
    assert "<svg" not in live and "Recent checks" in live
    # Uptime figures (sums) are on the live part; the chart's points (p50 et al.) are not.
    assert not any('"rtt_p50"' in q["sql"] for q in queries)


def test_the_chart_endpoint_is_in_the_schema_with_examples(db):
    from django.test import Client

    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    (path,) = [p for p in schema["paths"] if p.startswith("/api/icmp-monitors/") and "chart" in p]
    operation = schema["paths"][path]["get"]
    assert operation["operationId"] == "getIcmpMonitorChart" and operation["summary"]
    range_param = next(p for p in operation["parameters"] if p["name"] == "range")
    assert set(range_param["schema"]["enum"]) == set(RANGES)
    for status in ("200", "400"):
        content = operation["responses"][status]["content"]["application/json"]
        assert content["examples"], status


def test_a_window_planned_now_shades_nothing_before_it_was_planned(world: World):
    monitor = world.monitor_c1
    MaintenanceWindow.objects.filter(customer=monitor.customer).delete()
    now = timezone.now()
    MaintenanceWindow.objects.create(  # every day of the week, all day: covers the whole range
        customer=monitor.customer,
        weekday=now.weekday(),
        start_time=time(0, 0),
        duration_minutes=7 * 1440,
    )
    series = chart_series(monitor, "7d", now=now + timedelta(hours=1))
    assert len(series.maintenance) == 1
    lo, hi = series.maintenance[0]
    assert abs((lo - now).total_seconds()) < 5 and hi == now + timedelta(hours=1)


def test_a_range_tab_reads_only_what_the_chart_shows(world: World):
    client = world.client("viewer")
    url = f"/monitors/{world.monitor_c1.public_id}/chart/?range=7d"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="monitor-chart")
    assert response.status_code == 200 and "<svg" in response.content.decode()
    # No uptime sums, no maintenance-window check for "now": the tab shows neither.
    assert not any("SUM(" in q["sql"] for q in queries)
