"""The per-process API key cache (portal.keycache): a busy key is read from the database once
per API_KEY_CACHE_SECONDS, and it never lets through a key that should be refused — revoked or
deleted keys stop at once in this process and within the window elsewhere, a wrong secret is
refused, and a cached key keeps its organization, customer and read-only limits."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal import keycache
from portal.models import ApiKey, Customer
from tests.conftest import World


def get(world: World, actor: str, path: str = "/api/customers") -> tuple[int, list[str]]:
    """Status code and the SQL of the queries the request ran."""
    with CaptureQueriesContext(connection) as queries:
        response = world.api(actor, "GET", path)
    return response.status_code, [q["sql"] for q in queries]


def key_reads(sqls: list[str]) -> int:
    return sum('FROM "portal_apikey"' in sql for sql in sqls)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Moves the cache's clock forward (no sleeping): later(seconds)."""
    now = [keycache.clock()]
    monkeypatch.setattr(keycache, "clock", lambda: now[0])

    def move(seconds: float) -> None:
        now[0] += seconds

    return move


def test_a_busy_key_is_read_from_the_database_once_per_window(world: World, later: Any):
    assert get(world, "key_ro")[0] == 200
    status, sqls = get(world, "key_ro")
    assert status == 200 and key_reads(sqls) == 0
    later(4.9)
    assert key_reads(get(world, "key_ro")[1]) == 0
    later(0.2)  # past API_KEY_CACHE_SECONDS (5 s) since it was read
    assert key_reads(get(world, "key_ro")[1]) == 1


def test_a_revoked_key_stops_working_at_once_in_the_process_that_revoked_it(world: World):
    assert get(world, "key_rw")[0] == 200
    assert world.keys["key_rw"].revoke()
    assert get(world, "key_rw")[0] == 401


def test_a_key_revoked_from_the_page_stops_working_at_once(world: World):
    assert get(world, "key_rw")[0] == 200
    page = world.client("admin").post(f"/api-keys/{world.keys['key_rw'].pk}/revoke/")
    assert page.status_code == 302
    assert get(world, "key_rw")[0] == 401


def test_a_deleted_key_stops_working_at_once(world: World):
    assert get(world, "key_ro")[0] == 200
    world.keys["key_ro"].delete()
    assert get(world, "key_ro")[0] == 401


def test_the_keys_of_a_deleted_customer_stop_working_at_once(world: World):
    customer = Customer.objects.create(organization=world.org, name="Short-lived")
    key, plaintext = ApiKey.issue(organization=world.org, name="brief", customer=customer)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/customers").status_code == 200
    customer.delete()  # the key goes with it (CASCADE), through the collector's signals
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    assert client.get("/api/customers").status_code == 401


def test_a_key_revoked_in_another_process_stops_working_within_the_window(world: World, later: Any):
    assert get(world, "key_rw")[0] == 200
    # Another process revokes it: this one's cache hears nothing of it.
    ApiKey.objects.filter(pk=world.keys["key_rw"].pk).update(revoked_at=timezone.now())
    later(1)
    assert get(world, "key_rw")[0] == 200  # the documented window (API_KEY_CACHE_SECONDS)
    later(4.1)
    assert get(world, "key_rw")[0] == 401


def test_without_the_cache_a_key_revoked_elsewhere_stops_at_once(world: World, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    assert get(world, "key_rw")[0] == 200
    ApiKey.objects.filter(pk=world.keys["key_rw"].pk).update(revoked_at=timezone.now())
    assert get(world, "key_rw")[0] == 401


def test_a_cached_key_still_needs_its_whole_secret(world: World):
    assert get(world, "key_rw")[0] == 200
    prefix = world.keys["key_rw"].prefix
    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_AUTHORIZATION=f"Bearer pp_{prefix}_guess").get("/api/customers")
    assert response.status_code == 401
    # A hash that does not match the cached entry is not taken for a refusal either: the
    # database is asked (and the entry of the real key is left alone).
    assert key_reads([q["sql"] for q in queries]) == 1
    assert key_reads(get(world, "key_rw")[1]) == 0


def test_unknown_prefixes_are_not_cached(world: World):
    for n in range(3):
        response = Client(HTTP_AUTHORIZATION=f"Bearer pp_0000000{n}_x").get("/api/customers")
        assert response.status_code == 401
    assert keycache._entries == {}


def test_a_cached_key_keeps_its_limits(world: World):
    # Read-only stays read-only, the other organization's key sees none of ours, and a
    # customer-limited key only its customer, when each comes from the cache.
    for actor in ("key_ro", "key_other", "key_customer"):
        assert get(world, actor)[0] == 200
    monitor = f"/api/icmp-monitors/{world.monitor_c1.public_id}"
    assert world.api("key_ro", "PATCH", monitor, {"name": "x"}).status_code == 403
    assert world.api("key_other", "GET", monitor).status_code == 404
    other_customer = f"/api/icmp-monitors/{world.monitor_c2.public_id}"
    assert world.api("key_customer", "GET", other_customer).status_code == 404
    assert world.api("key_customer", "GET", monitor).status_code == 200


def test_last_used_is_still_written_once_a_minute_through_the_cache(world: World):
    writes = 0
    for _ in range(3):
        _status, sqls = get(world, "key_ro")
        writes += sum(sql.startswith("UPDATE") and "last_used_at" in sql for sql in sqls)
    assert writes == 1
    world.keys["key_ro"].refresh_from_db()
    assert world.keys["key_ro"].last_used_at is not None


def test_each_request_gets_its_own_copy_of_a_cached_key(world: World):
    plaintext = world.key_plaintexts["key_rw"]
    first = ApiKey.authenticate(plaintext)
    second = ApiKey.authenticate(plaintext)
    third = ApiKey.authenticate(plaintext)
    assert first is not None and second is not None and third is not None
    assert second is not third and second.pk == third.pk == first.pk
    # What one request loads onto its key (the creator, for the audit log) is its own.
    second.name = "changed in one request"
    assert third.name == world.keys["key_rw"].name
