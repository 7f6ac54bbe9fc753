"""Compiled SQL kept per process (portal.sqlcache) for the monitor list and the device lookup of
the Meraki-dialect job GET: compiled once per key, executed on every request — so the rows are
always the database's current ones — and keyed by everything the query depends on, the
caller's grants first."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, F, Window

from monitors.models import Monitor
from pings.api.views import resolve_device
from portal import access, sqlcache
from portal.api.authentication import ApiKeyPrincipal
from portal.api.exceptions import ApiError
from portal.models import User
from tests.conftest import World
from vendors.models import Device, DeviceKind


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The page queries (those counting a `_total`) sqlcache compiled during the test; not
    the reads of rows the list has not written yet (on PostgreSQL, see test_row_cache)."""
    seen: list[Any] = []
    real = sqlcache.compile_queryset

    def counting(queryset: Any) -> sqlcache.Compiled:
        if "_total" in queryset.query.annotations:
            seen.append(queryset)
        return real(queryset)

    monkeypatch.setattr(sqlcache, "compile_queryset", counting)
    return seen


def items(world: World, actor: str, query: str = "") -> dict[str, Any]:
    response = world.api(actor, "GET", f"/api/icmp-monitors{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_rows_are_what_django_s_own_values_gives(world: World):
    monitor = world.monitor_c1
    monitor.config = {"count": 4, "packetSize": 100}
    monitor.allowed_check_country_codes = ["DE", "NL"]
    monitor.save()

    def build() -> Any:
        return (
            Monitor.objects.order_by("id")
            .annotate(customer_name=F("customer__name"), _total=Window(Count("*")))
            .values("id", "public_id", "config", "created_at", "customer_name", "_total")
        )

    assert sqlcache.dicts("test", build) == list(build())
    assert sqlcache.dicts("test", build) == list(build())  # and from the compiled entry


def test_names_follow_the_sql_when_values_orders_annotations_otherwise(world: World):
    """values() may name annotations in another order than they were added: each value
    must still come under its own name."""

    def build() -> Any:
        return (
            Monitor.objects.order_by("id")
            .annotate(customer_name=F("customer__name"), upper=F("name"))
            .values("upper", "id", "customer_name")
        )

    assert sqlcache.dicts("order", build) == list(build())
    assert all(row["customer_name"] != row["upper"] for row in list(build()))


def test_the_list_compiles_its_query_once_and_reads_fresh_rows_every_time(
    world: World, compiles: list[Any]
):
    first = items(world, "key_rw")
    assert items(world, "key_rw") == first and len(compiles) == 1
    Monitor.objects.filter(pk=world.monitor_c1.pk).update(name="Renamed")
    Monitor.objects.create(customer=world.c2, name="New", hostname="127.0.0.9")
    now = items(world, "key_rw")
    assert len(compiles) == 1
    assert now["total"] == first["total"] + 1
    assert [m["name"] for m in now["items"]] == ["Renamed", "Router ping", "New"]


def test_each_page_filter_and_caller_has_its_own_compiled_query(world: World, compiles: list[Any]):
    for query in ("", "?perPage=1", "?perPage=1&page=2", "?search=router", "?status=active"):
        items(world, "key_rw", query)
    items(world, "key_rw", f"?customerId={world.c1.public_id}")
    items(world, "key_rw", f"?organizationId={world.org.pk}")
    assert len(compiles) == 7
    assert [m["name"] for m in items(world, "key_rw", "?perPage=1&page=2")["items"]] == [
        "Router ping"
    ]
    assert items(world, "key_rw", "?search=router")["total"] == 1


def test_the_caller_s_grants_are_part_of_the_key(world: World):
    path = "?perPage=50"
    assert items(world, "key_rw", path)["total"] == 2
    assert [m["name"] for m in items(world, "key_customer", path)["items"]] == ["Gateway ping"]
    assert [m["name"] for m in items(world, "key_other", path)["items"]] == ["Globex ping"]
    assert items(world, "supporter", path)["total"] == 3
    assert items(world, "key_rw", path)["total"] == 2


def test_a_caller_with_no_grant_lists_nothing(world: World):
    nobody = User.objects.create_user("nobody", "n@example.test", "pw")
    client = world.client("anon")
    client.force_login(nobody)
    for query in ("", "?page=3"):  # no rows, and no rows to carry the total
        body = client.get(f"/api/icmp-monitors{query}").json()
        assert (body["items"], body["total"]) == ([], 0)


def serials_for(world: World) -> list[str]:
    meraki = Device.objects.create(
        customer=world.c1, kind=DeviceKind.MERAKI_DEVICE, name="MX", serial="Q2AB-CDEF-0042"
    )
    thing = Device.objects.create(
        customer=world.c2, kind=DeviceKind.MONOGOTO_THING, name="SIM", iccid="8944500000000000042"
    )
    assert thing.reference == "8944500000000000042"
    return [
        str(world.device_c1.pk),
        f" {world.device_c2.pk} ",
        str(world.other_device.pk),
        str(world.device_c1.public_id),
        "Q2AB-CDEF-0042",
        "q2ab-cdef-0042",
        str(meraki.pk),  # a Meraki device is not addressed by its id
        "8944500000000000042",
        "no-such-device",
        "",
    ]


def resolved(actor: Any, serial: str, related: tuple[str, ...]) -> int | None:
    try:
        return resolve_device(actor, serial, related=related).pk
    except ApiError:
        return None


def test_the_compiled_device_lookup_finds_what_the_orm_lookup_finds(world: World):
    serials = serials_for(world)
    actors = [ApiKeyPrincipal(api_key=world.keys[k]) for k in ("key_rw", "key_customer")]
    actors += [world.users["supporter"], world.users["customer"], world.users["outsider"]]
    for actor in actors:
        for serial in serials:
            for _ in range(2):  # compiled, then from the entry
                assert resolved(actor, serial, ()) == resolved(actor, serial, ("customer",)), (
                    actor,
                    serial,
                )
    key_customer = ApiKeyPrincipal(api_key=world.keys["key_customer"])
    assert resolved(key_customer, str(world.device_c1.pk), ()) == world.device_c1.pk
    assert resolved(key_customer, str(world.device_c2.pk), ()) is None


def test_a_device_read_through_the_compiled_lookup_is_a_whole_device(world: World):
    actor = ApiKeyPrincipal(api_key=world.keys["key_rw"])
    device = resolve_device(actor, str(world.device_c1.pk), related=())
    fresh = Device.objects.get(pk=world.device_c1.pk)
    for field in Device._meta.concrete_fields:
        assert getattr(device, field.attname) == getattr(fresh, field.attname), field.name
    assert not device._state.adding
    assert access.can(actor, access.VIEW, device)


def test_a_late_parameter_is_given_each_run(world: World):
    """One compiled query for any list of ids (`= ANY(%s)` on PostgreSQL), each run with its
    own list."""
    if connection.vendor != "postgresql":
        return
    ids = sqlcache.Late("ids")
    Monitor._meta.pk.register_lookup(sqlcache.AnyOf)
    entry = sqlcache.compiled(
        "late", lambda: Monitor.objects.filter(id__any_of=ids).order_by("id").values("id", "name")
    )
    one, two = world.monitor_c1, world.monitor_c2
    assert sqlcache.execute(entry, late={ids: [one.pk]}) == [[one.pk, one.name]]
    assert sqlcache.execute(entry, late={ids: [two.pk, one.pk, 10**12]}) == sorted(
        [[one.pk, one.name], [two.pk, two.name]]
    )
    assert sqlcache.execute(entry, late={ids: []}) == []
    with pytest.raises(KeyError):
        sqlcache.execute(entry)
