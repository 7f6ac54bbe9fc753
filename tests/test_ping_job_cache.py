"""A finished job's JSON from the "api" cache (pings.jobcache): one query (the device) instead
of four, the same bytes as before, and the same access rules — the caller's grants decide on
every request, running jobs and unsettled callbacks are never served from it, and the device's
own fields are always read fresh."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pings import jobcache
from pings.models import CallbackStatus, PingJob, Status
from tests.conftest import World


def url(device: Any, job: Any) -> str:
    return f"/api/devices/{device.pk}/liveTools/ping/{job.pk}"


def get(world: World, actor: str, device: Any, job: Any) -> tuple[Any, list[str]]:
    """The response and the SQL of the queries it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = world.api(actor, "GET", url(device, job))
    return response, [q["sql"] for q in queries]


def job_reads(sqls: list[str]) -> int:
    """Reads of the job or its replies (not the device's lookup, which asks whether it exists)."""
    return sum(
        ('FROM "pings_pingjob"' in sql or 'FROM "pings_pingreply"' in sql)
        and 'FROM "vendors_device"' not in sql
        for sql in sqls
    )


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_a_finished_job_is_answered_from_the_cache_with_one_query(world: World):
    first, sqls = get(world, "key_rw", world.device_c1, world.job_c1)
    assert first.status_code == 200 and job_reads(sqls) == 2  # the job, its replies
    again, sqls = get(world, "key_rw", world.device_c1, world.job_c1)
    assert again.status_code == 200
    assert len(sqls) == 1 and 'FROM "vendors_device"' in sqls[0]  # the key is cached too
    assert again.content == first.content


def test_the_answer_keeps_its_shape_byte_for_byte(world: World):
    job, device = world.job_c1, world.device_c1
    expected = {
        "pingId": str(job.pk),
        "url": f"/devices/{device.pk}/liveTools/pingDevice/{job.pk}",
        "request": {"serial": str(device.pk), "count": 1},
        "status": "complete",
        "results": {
            "sent": 1,
            "received": 1,
            "loss": {"percentage": 0.0},
            "latencies": {"minimum": 0.05, "average": 0.05, "maximum": 0.05, "stddev": 0.0},
            "replies": [{"sequenceId": 1, "size": 64, "latency": 0.05}],
        },
        "publicId": str(job.public_id),
        "device": {
            "id": device.pk,
            "publicId": str(device.public_id),
            "name": "Gateway",
            "kind": "host",
        },
        "customerId": str(world.c1.public_id),
        "vendor": "local",
        "source": "",
        "vendorReference": "",
        "via": "page",
        "launchedBy": "operator",
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "finishedAt": iso(job.finished_at),
        "error": None,
    }
    body = json.dumps(expected, separators=(",", ":")).encode()
    for _ in range(2):  # read, then cached
        assert get(world, "key_rw", device, job)[0].content == body


def test_a_failed_job_with_a_delivered_callback_reads_back_the_same_from_the_cache(world: World):
    PingJob.objects.filter(pk=world.job_c2.pk).update(
        status=Status.FAILED,
        error="The vendor said no",
        error_kind="refused",
        target="127.0.0.9",
        callback_url="https://example.com/hook",
        callback_status=CallbackStatus.DELIVERED,
        callback_attempts=2,
    )
    first = get(world, "key_rw", world.device_c2, world.job_c2)[0]
    again, sqls = get(world, "key_rw", world.device_c2, world.job_c2)
    assert job_reads(sqls) == 0 and again.content == first.content
    body = again.json()
    assert list(body)[:6] == ["pingId", "url", "request", "status", "results", "callback"]
    assert body["callback"] == {
        "id": str(world.job_c2.pk),
        "url": "https://example.com/hook",
        "status": "delivered",
        "attempts": 2,
        "nextAttemptAt": None,
    }
    assert body["error"] == {"kind": "refused", "message": "The vendor said no"}
    assert body["request"]["target"] == "127.0.0.9" and body["results"] is None


def test_a_cached_job_is_still_404_for_another_organization(world: World):
    assert get(world, "key_rw", world.device_c1, world.job_c1)[0].status_code == 200
    # Through our device (not theirs to see), and through their own device (a key of theirs).
    for device in (world.device_c1, world.other_device):
        response = get(world, "key_other", device, world.job_c1)[0]
        assert response.status_code == 404
        assert str(world.job_c1.public_id) not in response.content.decode()
    assert get(world, "outsider", world.device_c1, world.job_c1)[0].status_code == 404


def test_a_cached_job_of_another_customer_is_404_for_a_customer_key(world: World):
    # The device moved to c1 after it pinged for c2: the job stays c2's, which key_customer
    # (limited to c1) may not see even though it sees the device.
    PingJob.objects.filter(pk=world.job_c2.pk).update(device=world.device_c1)
    assert get(world, "key_rw", world.device_c1, world.job_c2)[0].status_code == 200  # cached
    response = get(world, "key_customer", world.device_c1, world.job_c2)[0]
    assert response.status_code == 404
    assert response.json()["errors"] == [f"pingId: No job '{world.job_c2.pk}'."]
    assert get(world, "customer", world.device_c1, world.job_c2)[0].status_code == 404
    assert get(world, "key_customer", world.device_c1, world.job_c1)[0].status_code == 200


def test_a_running_job_is_not_served_stale(world: World):
    job = world.job_c1
    PingJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, finished_at=None)
    assert get(world, "key_rw", world.device_c1, job)[0].json()["status"] == "running"
    # The worker ends it (a compare-and-swap UPDATE, no signal): the next poll sees that.
    PingJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(status=Status.COMPLETE)
    response, sqls = get(world, "key_rw", world.device_c1, job)
    assert job_reads(sqls) == 2
    assert response.json()["status"] == "complete" and response.json()["results"]["sent"] == 1


def test_a_queued_job_is_not_served_stale(world: World):
    job = world.job_c1
    PingJob.objects.filter(pk=job.pk).update(status=Status.QUEUED)
    assert get(world, "key_rw", world.device_c1, job)[0].json()["status"] == "queued"
    PingJob.objects.filter(pk=job.pk).update(status=Status.FAILED, error="x", error_kind="y")
    assert get(world, "key_rw", world.device_c1, job)[0].json()["status"] == "failed"


@pytest.mark.parametrize("pending", [CallbackStatus.PENDING, CallbackStatus.RETRYING])
def test_a_finished_job_whose_callback_is_not_settled_is_not_cached(world: World, pending):
    job = world.job_c1
    PingJob.objects.filter(pk=job.pk).update(
        callback_url="https://example.com/hook", callback_status=pending
    )
    assert get(world, "key_rw", world.device_c1, job)[0].json()["callback"]["status"] == pending
    PingJob.objects.filter(pk=job.pk).update(
        callback_status=CallbackStatus.DELIVERED, callback_attempts=1
    )
    callback = get(world, "key_rw", world.device_c1, job)[0].json()["callback"]
    assert (callback["status"], callback["attempts"]) == ("delivered", 1)


def test_the_device_s_fields_are_read_fresh_in_a_cached_answer(world: World):
    assert get(world, "key_rw", world.device_c1, world.job_c1)[0].status_code == 200
    device = world.device_c1
    device.name = "Renamed gateway"
    device.save()
    body = get(world, "key_rw", device, world.job_c1)[0].json()
    assert body["device"]["name"] == "Renamed gateway"
    # Moved to another customer: a key limited to c1 no longer sees the device, cached or not.
    assert get(world, "key_customer", device, world.job_c1)[0].status_code == 200
    device.customer = world.c2
    device.save()
    assert get(world, "key_customer", device, world.job_c1)[0].status_code == 404


def test_the_launcher_is_shown_as_each_caller_may_see_it(world: World):
    assert get(world, "key_rw", world.device_c1, world.job_c1)[0].json()["launchedBy"] == "operator"
    for actor in ("key_customer", "customer"):
        body = get(world, actor, world.device_c1, world.job_c1)[0].json()
        assert body["launchedBy"] == "Provider staff"
    assert get(world, "viewer", world.device_c1, world.job_c1)[0].json()["launchedBy"] == "operator"


def test_a_cache_that_fails_falls_back_to_the_database(world: World, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(caches["api"], "get", broken)
    monkeypatch.setattr(caches["api"], "set", broken)
    response, sqls = get(world, "key_rw", world.device_c1, world.job_c1)
    assert response.status_code == 200 and job_reads(sqls) == 2
    # This process's own copy answers next (the job was just read to exist) ...
    again, sqls = get(world, "key_rw", world.device_c1, world.job_c1)
    assert again.content == response.content and job_reads(sqls) == 0
    # ... and another process, without one, reads the database.
    jobcache.clear()
    again, sqls = get(world, "key_rw", world.device_c1, world.job_c1)
    assert again.content == response.content and job_reads(sqls) == 2


def test_a_record_kept_by_this_process_is_not_served_once_the_job_is_gone(world: World):
    """The process's own copy is consulted only after the device lookup found the job: a
    job deleted where no signal reaches this process (raw SQL, another machine) is a 404."""
    job = world.job_c1
    assert get(world, "key_rw", world.device_c1, job)[0].status_code == 200  # kept here
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pings_pingreply WHERE job_id = %s", [job.pk])
        cursor.execute("DELETE FROM pings_pingjob WHERE id = %s", [job.pk])
    caches["api"].clear()  # as if Redis never had it: only this process's copy is left
    response, sqls = get(world, "key_rw", world.device_c1, job)
    assert response.status_code == 404 and len(sqls) == 1 and job_reads(sqls) == 0


def test_with_the_cache_off_every_read_goes_to_the_database(world: World, settings):
    settings.PING_JOB_CACHE_SECONDS = 0
    for _ in range(2):
        assert job_reads(get(world, "key_rw", world.device_c1, world.job_c1)[1]) == 2


def test_a_job_of_another_device_is_404_even_when_cached(world: World):
    assert get(world, "key_rw", world.device_c1, world.job_c1)[0].status_code == 200
    assert get(world, "key_rw", world.device_c2, world.job_c1)[0].status_code == 404


def test_a_job_deleted_in_the_admin_is_gone_from_the_cache_at_once(world: World):
    job = world.job_c1
    assert get(world, "key_rw", world.device_c1, job)[0].status_code == 200  # cached
    page = world.client("admin").post(f"/admin/pings/pingjob/{job.pk}/delete/", {"post": "yes"})
    assert page.status_code == 302 and not PingJob.objects.filter(pk=job.pk).exists()
    response, sqls = get(world, "key_rw", world.device_c1, job)
    # The device's lookup says the job is gone: no read of the job at all.
    assert response.status_code == 404 and len(sqls) == 1 and job_reads(sqls) == 0


def test_a_job_deleted_with_the_orm_is_gone_from_the_cache_at_once(world: World):
    assert get(world, "key_rw", world.device_c2, world.job_c2)[0].status_code == 200
    PingJob.objects.filter(pk=world.job_c2.pk).delete()  # the collector sends post_delete
    assert get(world, "key_rw", world.device_c2, world.job_c2)[0].status_code == 404
