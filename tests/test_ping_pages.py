"""Ping pages: the per-vendor form on a device, the live result panel, bulk launches, the
history with keyset pages, and the CSV export of exactly the filtered rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from pings import launching, tasks
from pings.models import PingBatch, PingJob, Status
from tests.conftest import World
from tests.test_ping_jobs import make_device
from vendors.models import DeviceKind

HTMX = {"HTTP_HX_REQUEST": "true"}


def panel(world: World, actor: str, device: Any) -> Any:
    return world.client(actor).get(f"/devices/{device.public_id}/pings/", **HTMX)


def launch_page(world: World, actor: str, device: Any, data: dict) -> Any:
    return world.client(actor).post(f"/devices/{device.public_id}/pings/", data, **HTMX)


@pytest.mark.parametrize(
    "kind,fields",
    [
        (DeviceKind.HOST, ["target", "count", "packet_size", "interval", "timeout"]),
        (DeviceKind.MERAKI_DEVICE, ["target", "count"]),
        (DeviceKind.MONOGOTO_THING, ["target"]),
        (DeviceKind.SIMOTEL_SERVER, []),
    ],
)
def test_the_form_offers_what_the_vendor_supports(world, kind, fields):
    device = make_device(world, kind, "http://127.0.0.1:9")
    html = panel(world, "operator", device).content.decode()
    for name in ["target", "count", "packet_size", "interval", "timeout"]:
        assert (f'name="{name}"' in html) is (name in fields), name
    assert "Ping now" in html


def test_the_device_page_loads_the_ping_panel(world):
    html = world.client("operator").get(f"/devices/{world.device_c1.public_id}/").content.decode()
    assert f'hx-get="/devices/{world.device_c1.public_id}/pings/"' in html


def test_an_operator_pings_and_sees_the_outcome(world):
    response = launch_page(world, "operator", world.device_c1, {"count": 2, "interval": 0.2})
    assert response.status_code == 200
    html = response.content.decode()
    job = PingJob.objects.filter(device=world.device_c1).latest("pk")
    assert job.status == Status.COMPLETE and job.via == "page"
    assert "Received / sent" in html and "2<small> / 2</small>" in html
    assert 'class="ping-chart"' in html  # the RTT chart
    assert html.count('<td data-label="Seq">') == 2  # the reply table
    assert f'id="ping-{job.public_id}"' in html and "every 1s" not in html.split("Recent")[0]


def test_the_result_panel_polls_while_the_job_runs_and_stops_when_it_ends(world, monkeypatch):
    monkeypatch.setattr(launching, "enqueue", lambda job: None)
    launch_page(world, "operator", world.device_c1, {"count": 1})
    job = PingJob.objects.filter(device=world.device_c1).latest("pk")
    url = f"/pings/{job.public_id}/"
    queued = world.client("operator").get(url, **HTMX).content.decode()
    assert "Waiting for a worker" in queued
    assert f'hx-get="{url}" hx-trigger="every 1s"' in queued
    tasks.run_job(job.pk)
    done = world.client("operator").get(url, **HTMX).content.decode()
    assert "hx-trigger" not in done and "Received / sent" in done
    assert done.lstrip().startswith("<article")  # the panel alone, for the swap


def test_a_failed_job_shows_the_vendor_s_words(world, sim):
    device = make_device(world, DeviceKind.MERAKI_DEVICE, f"{sim.base}/meraki/api/v1")
    sim.fault(scope="*", mode="500", count=1)
    html = launch_page(world, "operator", device, {"target": "127.0.0.1", "count": 1})
    text = html.content.decode()
    assert "Failed:" in text and "Meraki answered HTTP 500: Internal server error" in text


def test_bad_form_input_is_shown_and_creates_nothing(world):
    meraki = make_device(world, DeviceKind.MERAKI_DEVICE, "http://127.0.0.1:9")
    for device, data, message in [
        (meraki, {"count": 6}, "Must be from 1 to 5."),
        (meraki, {"target": "http://x.test/a"}, "without a scheme"),
        (world.device_c1, {"count": "x"}, "Enter a whole number."),
        (world.device_c1, {"count": 100, "interval": 5}, "keep count * interval + timeout"),
    ]:
        response = launch_page(world, "operator", device, data)
        assert response.status_code == 422, data
        assert message in response.content.decode(), data
    assert (
        not PingJob.objects.filter(device__in=[meraki, world.device_c1])
        .exclude(pk=world.job_c1.pk)
        .exists()
    )


def test_the_page_keeps_the_device_limit_too(world):
    for _ in range(5):
        assert launch_page(world, "operator", world.device_c1, {"count": 1}).status_code == 200
    response = launch_page(world, "operator", world.device_c1, {"count": 1})
    assert response.status_code == 422 and "at most 1 ping per 5 s" in response.content.decode()


@pytest.mark.parametrize("actor", ["viewer", "customer", "supporter"])
def test_read_only_users_see_pings_but_no_launch_controls(world, actor):
    html = panel(world, actor, world.device_c1).content.decode()
    assert "Ping now" not in html and "<form" not in html
    assert "Recent pings" in html and str(world.job_c1.public_id) in html
    listing = world.client(actor).get("/devices/").content.decode()
    assert "Ping selected" not in listing and 'name="devices"' not in listing
    assert launch_page(world, actor, world.device_c1, {"count": 1}).status_code == 403
    bulk = world.client(actor).post("/pings/bulk/", {"devices": [world.device_c1.public_id]})
    assert bulk.status_code == 403
    assert PingJob.objects.count() == 3  # the world's own


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_ping_launches_one_batch_and_shows_combined_progress(world, monkeypatch):
    listing = world.client("operator").get("/devices/").content.decode()
    assert "Ping selected" in listing and f'value="{world.device_c1.public_id}"' in listing
    held: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: held.append(job.pk))
    response = world.client("operator").post(
        "/pings/bulk/", {"devices": [world.device_c1.public_id, world.device_c2.public_id]}
    )
    assert response.status_code == 302
    batch = PingBatch.objects.latest("pk")
    assert response["Location"] == f"/pings/batches/{batch.public_id}/"
    assert sorted(batch.jobs.values_list("via", flat=True)) == ["bulk", "bulk"]
    progress = world.client("operator").get(response["Location"], **HTMX).content.decode()
    assert "0 of 2" in progress and "every 1s" in progress
    tasks.run_job(held[0])
    assert "1 of 2" in world.client("operator").get(response["Location"], **HTMX).content.decode()
    tasks.run_job(held[1])
    done = world.client("operator").get(response["Location"], **HTMX).content.decode()
    assert "2 of 2" in done and "every 1s" not in done


@pytest.mark.parametrize(
    "devices",
    [[], ["not-a-uuid"], ["0b0c9a1e-3f7e-4a55-9d0f-6d3c1c0f7a11"], "other"],
    ids=["none", "malformed", "unknown", "other-organization"],
)
def test_bulk_with_bad_devices_pings_nothing(world, devices):
    if devices == "other":
        devices = [world.device_c1.public_id, world.other_device.public_id]
    response = world.client("operator").post("/pings/bulk/", {"devices": devices})
    assert response.status_code == 400
    assert "Nothing was pinged" in response.content.decode()
    assert PingJob.objects.count() == 3 and PingBatch.objects.count() == 2


# --- history and CSV ------------------------------------------------------------------------


def make_jobs(world: World, n: int, **fields: Any) -> list[PingJob]:
    now = timezone.now()
    base = {
        "organization": world.org,
        "customer": world.c1,
        "device": world.device_c1,
        "vendor": "local",
        "launched_by_label": "operator",
        "via": "api",
        "status": "complete",
        "deadline_at": now,
    }
    return PingJob.objects.bulk_create(
        PingJob(**{**base, **fields, "created_at": now - timedelta(minutes=n - i)})
        for i in range(n)
    )


def history_ids(world: World, actor: str, query: str = "") -> list[int]:
    """Walk every page of the history, following the Older links."""
    import re

    client, ids, url = world.client(actor), [], f"/pings/?{query}"
    for _ in range(100):
        html = client.get(url).content.decode()
        ids += [int(i) for i in re.findall(r'<tr data-ping-id="(\d+)">', html)]
        older = re.search(r'href="\?([^"]*before=\d+[^"]*)"', html)
        if not older:
            return ids
        url = "/pings/?" + older.group(1).replace("&amp;", "&")
    raise AssertionError("too many pages")


def csv_ids(world: World, actor: str, query: str = "") -> list[int]:
    response = world.client(actor).get(f"/pings/export.csv?{query}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    return [int(r["ping_id"]) for r in rows]


def test_history_pages_walk_every_row_newest_first(world):
    make_jobs(world, 120)
    ids = history_ids(world, "operator")
    expected = list(
        PingJob.objects.filter(organization=world.org).order_by("-pk").values_list("pk", flat=True)
    )
    assert ids == expected and len(ids) == 122  # the world's 2 and these 120
    first = world.client("operator").get("/pings/").content.decode()
    assert "Older →" in first and "← Newer" not in first
    assert first.count("<tr data-ping-id=") == 50
    ascending = sorted(ids)
    last = world.client("operator").get(f"/pings/?before={ascending[3]}").content.decode()
    assert "← Newer" in last and "Older →" not in last
    assert last.count("<tr data-ping-id=") == 3
    back = world.client("operator").get(f"/pings/?after={ascending[2]}").content.decode()
    assert "← Newer" in back and "Older →" in back
    assert f'<tr data-ping-id="{ascending[3]}">' in back


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=failed",
        "vendor=meraki",
        "via=bulk",
        "who=alice",
        "customer={c2}",
        "device={d2}",
        "since={yesterday}&until={today}",
        "until={yesterday}",
        "status=complete&customer={c1}&who=oper",
    ],
)
def test_csv_holds_exactly_the_filtered_rows(world, query):
    make_jobs(world, 60)
    make_jobs(world, 7, status="failed", error="=HYPERLINK(evil)", launched_by_label="alice")
    make_jobs(world, 5, vendor="meraki", via="bulk", customer=world.c2, device=world.device_c2)
    old = make_jobs(world, 4)
    PingJob.objects.filter(pk__in=[j.pk for j in old]).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    today = timezone.now().date()
    query = query.format(
        c1=world.c1.public_id,
        c2=world.c2.public_id,
        d2=world.device_c2.public_id,
        today=today.isoformat(),
        yesterday=(today - timedelta(days=1)).isoformat(),
    )
    shown = history_ids(world, "operator", query)
    exported = csv_ids(world, "operator", query)
    assert exported == shown
    assert len(shown) == len(set(shown))
    if not query:
        assert len(shown) == PingJob.objects.filter(organization=world.org).count()


def test_csv_cells_cannot_become_spreadsheet_formulas(world):
    make_jobs(world, 1, status="failed", error="=HYPERLINK(evil)")
    body = b"".join(world.client("operator").get("/pings/export.csv").streaming_content)
    assert b"'=HYPERLINK(evil)" in body


def test_customer_users_see_only_their_customer_s_pings(world):
    make_jobs(world, 3, customer=world.c2, device=world.device_c2)
    ids = history_ids(world, "customer")
    assert ids == [world.job_c1.pk]
    assert csv_ids(world, "customer") == [world.job_c1.pk]


def test_a_history_page_reads_a_bounded_number_of_rows(world, django_assert_max_num_queries):
    make_jobs(world, 500)
    client = world.client("operator")
    client.get("/pings/")  # warm the session and caches
    with django_assert_max_num_queries(20) as captured:
        client.get("/pings/?before=400")
    sql = " ".join(q["sql"] for q in captured.captured_queries if "pings_pingjob" in q["sql"])
    assert "OFFSET" not in sql.upper() and "COUNT(" not in sql.upper()
    assert "LIMIT 51" in sql


def test_bad_history_filters_are_refused(world):
    response = world.client("operator").get("/pings/?since=2026-02-30")
    assert response.status_code == 400
    assert world.client("operator").get("/pings/export.csv?status=bogus").status_code == 400


def test_the_ping_page_shows_the_callback_but_never_its_secret(world):
    job = world.job_c1
    job.set_callback("https://hooks.example.test/x", "do-not-show-this-secret")
    job.save()
    html = world.client("admin").get(f"/pings/{job.public_id}/").content.decode()
    assert "https://hooks.example.test/x" in html
    assert "do-not-show-this-secret" not in html
