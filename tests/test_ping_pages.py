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
    replies = html.split('class="table-wrap replies"')[1].split("</table>")[0]
    assert replies.count("<tr>") == 3  # the reply table: a header and 2 echoes
    assert f'id="ping-{job.public_id}"' in html and "every 1s" not in html.split("Recent")[0]
    # The options stay in the form for the next ping.
    assert 'name="count" value="2"' in html and 'name="interval" value="0.2"' in html


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
    make_jobs(world, 120)  # launched in the last two hours, so older than the world's 2
    ids = history_ids(world, "operator")
    expected = list(
        PingJob.objects.filter(organization=world.org)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
    )
    assert ids == expected and len(ids) == 122
    first = world.client("operator").get("/pings/").content.decode()
    assert "Older →" in first and "← Newer" not in first
    assert first.count("<tr data-ping-id=") == 50
    last = world.client("operator").get(f"/pings/?before={expected[-4]}").content.decode()
    assert "← Newer" in last and "Older →" not in last
    assert last.count("<tr data-ping-id=") == 3
    back = world.client("operator").get(f"/pings/?after={expected[-3]}").content.decode()
    assert "← Newer" in back and "Older →" in back
    # The 50 just newer than the cursor: the 4th oldest to the 53rd oldest.
    shown = [int(i) for i in __import__("re").findall(r'<tr data-ping-id="(\d+)">', back)]
    assert shown == expected[-53:-3]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=failed",
        "vendor=meraki",
        "who=user:{alice}",
        "who=key:{key}",
        "customer={c2}",
        "device={d2}",
        "since={yesterday}&until={today}",
        "until={yesterday}",
        "status=complete&customer={c1}&who=user:{operator}",
    ],
)
def test_csv_holds_exactly_the_filtered_rows(world, query):
    make_jobs(world, 60, launched_by=world.users["operator"])
    make_jobs(world, 7, status="failed", error="=HYPERLINK(evil)", launched_by=world.users["admin"])
    make_jobs(
        world,
        5,
        vendor="meraki",
        via="api",
        api_key=world.keys["key_rw"],
        customer=world.c2,
        device=world.device_c2,
    )
    old = make_jobs(world, 4)
    PingJob.objects.filter(pk__in=[j.pk for j in old]).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    today = timezone.now().date()
    query = query.format(
        alice=world.users["admin"].pk,
        operator=world.users["operator"].pk,
        key=world.keys["key_rw"].pk,
        c1=world.c1.public_id,
        c2=world.c2.public_id,
        d2=world.device_c2.public_id,
        today=today.isoformat(),
        yesterday=(today - timedelta(days=1)).isoformat(),
    )
    exported = csv_ids(world, "admin", query)
    assert exported == history_ids(world, "admin", query)
    assert len(exported) == len(set(exported))
    if query:
        assert 0 < len(exported) < PingJob.objects.filter(organization=world.org).count()
    else:
        assert len(exported) == PingJob.objects.filter(organization=world.org).count()


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
    cursor = make_jobs(world, 500)[250].pk
    client = world.client("operator")
    client.get("/pings/")  # warm the session and caches
    with django_assert_max_num_queries(20) as captured:
        response = client.get(f"/pings/?before={cursor}")
    assert response.content.decode().count("<tr data-ping-id=") == 50
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


def test_the_back_button_gets_whole_pages(world):
    """htmx asks again for a pushed URL (a filtered history) when its snapshot is gone: that
    answer must be the whole page, not the rows alone."""
    client = world.client("operator")
    rows = client.get("/pings/?status=complete", **HTMX).content.decode()
    assert "<html" not in rows and "data-ping-id" in rows
    restored = client.get(
        "/pings/?status=complete", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    ).content.decode()
    assert "<html" in restored and "data-ping-id" in restored


def test_the_recent_list_polls_while_a_job_runs(world, monkeypatch):
    held: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: held.append(job.pk))
    html = launch_page(world, "operator", world.device_c1, {"count": 1}).content.decode()
    recent = html.split('id="recent-pings"')[1]
    assert "?part=recent" in recent.split(">")[0]  # polls
    assert f'data-ping-id="{held[0]}"' in recent  # and lists the new job too
    url = f"/devices/{world.device_c1.public_id}/pings/?part=recent"
    assert "Queued" in world.client("operator").get(url, **HTMX).content.decode()
    tasks.run_job(held[0])
    done = world.client("operator").get(url, **HTMX).content.decode()
    assert done.startswith('<article id="recent-pings">') and "every 2s" not in done


def test_the_job_page_updates_its_details_live(world, monkeypatch):
    held: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: held.append(job.pk))
    launch_page(world, "operator", world.device_c1, {"count": 1})
    job = PingJob.objects.get(pk=held[0])
    page = world.client("operator").get(f"/pings/{job.public_id}/").content.decode()
    assert page.count("hx-trigger") == 1 and "?part=body" in page  # one poller, the whole body
    tasks.run_job(job.pk)
    body = world.client("operator").get(f"/pings/{job.public_id}/?part=body", **HTMX)
    text = body.content.decode()
    assert text.startswith('<div id="ping-body">') and "hx-trigger" not in text
    assert "Finished" in text and "after" in text and "Received / sent" in text


def test_a_ping_without_any_reply_is_not_shown_as_a_success(world):
    job = world.job_c1
    PingJob.objects.filter(pk=job.pk).update(received=0, loss_percent=100.0)
    job.replies.update(rtt_ms=None)
    html = world.client("operator").get(f"/pings/{job.public_id}/").content.decode()
    assert "No reply" in html and "job-complete" not in html
    assert 'class="lost"' in html  # the chart marks the lost echo


def test_a_simotel_check_reads_as_an_api_round_trip(world):
    from tests.test_ping_jobs import make_device

    device = make_device(world, DeviceKind.SIMOTEL_SERVER, "http://127.0.0.1:9")
    job = make_jobs(world, 1, device=device, vendor="simotel", sent=1, received=1, rtt_avg=42.0)[0]
    html = world.client("operator").get(f"/pings/{job.public_id}/").content.decode()
    assert "The PBX's API answered in" in html and "Received / sent" not in html


def test_bulk_when_every_device_is_rate_limited_makes_no_batch(world):
    for _ in range(5):
        launching.take_token(world.device_c1)
    response = world.client("operator").post(
        "/pings/bulk/", {"devices": [world.device_c1.public_id]}
    )
    assert response.status_code == 400
    assert "at most 1 ping per 5 s" in response.content.decode()
    assert PingBatch.objects.count() == 2  # the world's own


def test_bulk_lists_the_devices_it_had_to_skip(world, monkeypatch):
    monkeypatch.setattr(launching, "enqueue", lambda job: None)
    for _ in range(5):
        launching.take_token(world.device_c1)
    response = world.client("operator").post(
        "/pings/bulk/", {"devices": [world.device_c1.public_id, world.device_c2.public_id]}
    )
    batch = PingBatch.objects.latest("pk")
    assert batch.skipped == ["Gateway"] and batch.jobs.count() == 1
    page = world.client("operator").get(response["Location"]).content.decode()
    assert "Not pinged" in page and "Gateway" in page


def test_customer_users_get_no_list_of_the_organization_s_people(world):
    staff = world.client("operator").get("/pings/").content.decode()
    assert 'name="who"' in staff and "viewer" in staff
    customer = world.client("customer").get("/pings/").content.decode()
    assert 'name="who"' not in customer


def test_a_job_nobody_takes_says_so(world, monkeypatch):
    monkeypatch.setattr(launching, "enqueue", lambda job: None)
    launch_page(world, "operator", world.device_c1, {"count": 1})
    job = PingJob.objects.filter(device=world.device_c1).latest("pk")
    html = world.client("operator").get(f"/pings/{job.public_id}/", **HTMX).content.decode()
    assert "Waiting for a worker" in html and "qcluster" not in html
    PingJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=40))
    html = world.client("operator").get(f"/pings/{job.public_id}/", **HTMX).content.decode()
    assert "is the job cluster (<code>manage.py qcluster</code>) running?" in html


def test_customer_users_see_that_staff_launched_a_ping_but_not_who(world):
    page = world.client("customer").get("/pings/").content.decode()
    assert "Provider staff" in page and ">operator <" not in page
    body = b"".join(world.client("customer").get("/pings/export.csv").streaming_content).decode()
    assert "Provider staff" in body and ",operator," not in body
    api = world.api("customer", "GET", f"/api/pings/{world.job_c1.pk}").json()
    assert api["launchedBy"] == "Provider staff"
    staff = world.api("viewer", "GET", f"/api/pings/{world.job_c1.pk}").json()
    assert staff["launchedBy"] == "operator"


def test_refused_filters_leave_the_export_link_and_the_back_button_working(world):
    failed = make_jobs(world, 3, status="failed")
    client = world.client("operator")
    url = "/pings/?status=failed&since=2026-11-20&until=2026-11-18"
    page = client.get(url)
    assert page.status_code == 400
    html = page.content.decode()
    assert "To: Must not be before" in html
    # The refused date is left out of the rows and of the export link alike.
    shown = [int(i) for i in __import__("re").findall(r'data-ping-id="(\d+)"', html)]
    assert sorted(shown) == sorted(j.pk for j in failed)
    assert 'href="/pings/export.csv?status=failed&amp;since=2026-11-20"' in html
    assert csv_ids(world, "operator", "status=failed&since=2026-11-20") == shown
    assert client.get(url, **HTMX).status_code == 422
    restored = client.get(url, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert restored.status_code == 200 and "<html" in restored.content.decode()


def test_anyone_s_pings_can_be_filtered_by_launcher_id(world):
    make_jobs(world, 2, launched_by=world.users["admin"])
    supporter = world.client("supporter")
    assert supporter.get(f"/pings/?who=user:{world.users['admin'].pk}").status_code == 200
    assert supporter.get("/pings/?who=somebody").status_code == 400
