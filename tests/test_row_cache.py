"""The monitor list keeps each row's JSON per process by the row's version on PostgreSQL
(portal.rowcache, monitors.api.views.WRITTEN): a page of unchanged rows is read as ids and
versions only, and a row changed in any way — the ORM, `QuerySet.update`, raw SQL, a bulk
write, its customer's rename, its deletion — is answered as it is now. On SQLite the list
reads whole rows every time and keeps nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from monitors.api import views
from monitors.models import Monitor
from portal import rowcache
from portal.api.renderers import RenderedRow
from portal.models import Customer
from tests.conftest import World


@pytest.fixture(autouse=True)
def empty_cache():
    views.WRITTEN.clear()
    yield
    views.WRITTEN.clear()


def listed(world: World, query: str = "?perPage=200") -> list[dict[str, Any]]:
    response = world.api("key_rw", "GET", f"/api/icmp-monitors{query}")
    assert response.status_code == 200, response.content
    return response.json()["items"]


def assert_list_is_current(world: World) -> list[dict[str, Any]]:
    """Every listed row is what the detail answer (a model read now, nothing kept) says,
    with its customer's current name; and every visible monitor is listed."""
    items = listed(world)
    for item in items:
        detail = world.api("key_rw", "GET", f"/api/icmp-monitors/{item['publicId']}").json()
        name = item.pop("customerName")
        assert item == detail
        assert name == Customer.objects.get(pk=item["customerId"]).name
    assert sorted(i["id"] for i in items) == sorted(
        Monitor.objects.filter(organization=world.org).values_list("id", flat=True)
    )
    return items


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- RowCache itself ---------------------------------------------------------------------------


def test_an_entry_answers_only_its_own_version():
    cache = rowcache.RowCache()
    cache.put(1, ("10.0", "A"), "row one")
    assert cache.get(1, ("10.0", "A")) == "row one"
    assert cache.get(1, ("11.0", "A")) is None
    assert cache.get(1, ("10.0", "B")) is None
    assert cache.get(2, ("10.0", "A")) is None
    cache.put(1, ("11.0", "A"), "row one, changed")
    assert cache.get(1, ("10.0", "A")) is None  # replaced, not kept beside
    assert cache.get_many([(1, ("11.0", "A")), (2, "x"), (1, "y")]) == [
        "row one, changed",
        None,
        None,
    ]
    assert len(cache) == 1


def test_old_entries_are_not_used(monkeypatch: pytest.MonkeyPatch):
    now = [1000.0]
    monkeypatch.setattr(rowcache.time, "monotonic", lambda: now[0])
    cache = rowcache.RowCache(max_age=60)
    cache.put(1, "v", "row")
    now[0] += 60
    assert cache.get(1, "v") == "row"
    now[0] += 0.001
    assert cache.get(1, "v") is None
    assert cache.get_many([(1, "v")]) == [None]


def test_the_oldest_written_goes_first_when_full():
    cache = rowcache.RowCache(max_entries=2)
    cache.put(1, "v", "one")
    cache.put(2, "v", "two")
    cache.put(1, "w", "one again")  # rewritten: now the newest
    cache.put(3, "v", "three")
    assert cache.get(2, "v") is None
    assert cache.get(1, "w") == "one again" and cache.get(3, "v") == "three"
    assert len(cache) == 2


# --- the monitor list --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unchanged_page_is_read_as_ids_and_versions(world: World):
    first = listed(world)
    with CaptureQueriesContext(connection) as captured:
        again = listed(world)
    assert again == first
    page_reads = [q["sql"] for q in captured.captured_queries if "monitors_monitor" in q["sql"]]
    assert len(page_reads) == 1
    if on_postgres():
        # Not the whole row: no hostname, config or timestamps were read.
        assert '"hostname"' not in page_reads[0] and '"config"' not in page_reads[0]
        assert set(views.WRITTEN._entries) == {item["id"] for item in first}
    else:
        assert '"hostname"' in page_reads[0]
        assert len(views.WRITTEN) == 0


@pytest.mark.django_db
def test_every_kind_of_change_is_answered_as_it_is_now(world: World):
    assert_list_is_current(world)
    one, other = world.monitor_c1, world.monitor_c2
    changes = [
        lambda: Monitor.objects.filter(pk=one.pk).update(name="Renamed by update()"),
        lambda: setattr(other, "hostname", "127.0.0.77") or other.save(),
        lambda: Monitor.objects.filter(pk=one.pk).update(
            health="down", last_rtt_ms=12.5, last_loss_percent=100.0
        ),
        lambda: Monitor.objects.bulk_update(
            [Monitor(pk=one.pk, retries=3), Monitor(pk=other.pk, retries=4)], ["retries"]
        ),
        lambda: raw_sql("UPDATE monitors_monitor SET name = %s WHERE id = %s", ["raw", other.pk]),
        lambda: Customer.objects.filter(pk=one.customer_id).update(name="Renamed customer"),
        lambda: Monitor.objects.create(customer=world.c2, name="Added", hostname="127.0.0.8"),
        lambda: Monitor.objects.filter(pk=other.pk).update(config={"count": 1, "extra": "é"}),
        lambda: Monitor.objects.filter(pk=one.pk).delete(),
    ]
    for change in changes:
        change()
        assert_list_is_current(world)
        assert_list_is_current(world)  # and again, from what the first read kept


def raw_sql(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db(transaction=True)
def test_changes_committed_by_other_transactions_are_seen():
    """Outside a test's own transaction each change is a new `xmin`."""
    from tests.conftest import make_world

    world = make_world()
    assert_list_is_current(world)
    with transaction.atomic():
        Monitor.objects.filter(pk=world.monitor_c1.pk).update(name="First")
        Monitor.objects.filter(pk=world.monitor_c1.pk).update(name="Second")
    items = assert_list_is_current(world)
    assert "Second" in {i["name"] for i in items}
    Monitor.objects.filter(pk=world.monitor_c1.pk).update(status="paused")
    assert_list_is_current(world)


@pytest.mark.django_db
def test_a_row_orjson_cannot_write_as_drf_is_listed_but_not_kept(world: World):
    """A float Python writes with an exponent goes through DRF's renderer (with the kept
    rows of the same page made dicts again): the same answer, and nothing kept for it."""
    Monitor.objects.filter(pk=world.monitor_c1.pk).update(degraded_rtt_ms=1.5e-5)
    listed(world)  # the others are kept now
    response = world.api("key_rw", "GET", "/api/icmp-monitors?perPage=200")
    assert b"1.5e-05" in response.content
    assert_list_is_current(world)
    if on_postgres():
        kept = {key for key in views.WRITTEN._entries}
        assert world.monitor_c1.pk not in kept and world.monitor_c2.pk in kept


@pytest.mark.django_db
def test_kept_rows_read_as_plain_mappings(world: World):
    """`response.data` (tests, the browsable API) shows kept rows as what they were made of."""
    listed(world)
    response = world.api("key_rw", "GET", "/api/icmp-monitors?perPage=200")
    first = response.data["items"][0]
    if on_postgres():
        assert isinstance(first, RenderedRow)
    assert dict(first) == response.json()["items"][0]
    indented = world.client("key_rw").get(
        "/api/icmp-monitors?perPage=200", HTTP_ACCEPT="application/json; indent=2"
    )
    assert indented.json() == response.json() and b'\n  "items"' in indented.content


@pytest.mark.django_db
def test_the_browsable_api_shows_kept_rows(world: World):
    listed(world)  # kept now
    page = world.client("key_rw").get("/api/icmp-monitors?perPage=200", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert world.monitor_c1.name.encode() in page.content
    assert b"&quot;publicId&quot;" in page.content or b'"publicId"' in page.content
