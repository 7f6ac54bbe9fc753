"""The monitor list reads timestamps straight into the API's text and JSON by orjson
(monitors.api.fastload): its items must be what the detail answer (a model, `_iso`,
Django's JSON) says, for any timestamp and any stored JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from hypothesis import given, settings

from monitors.api import fastload
from monitors.api.serializers import _iso
from monitors.models import Monitor
from portal import sqlcache
from tests.conftest import World
from tests.strategies import json_values

MOMENTS = [
    dt.datetime(2026, 12, 3, 14, 9, 7, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 999, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 1000, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 120000, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 31, 23, 59, 59, 999500, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1, 0, 0, 0, 500, tzinfo=dt.UTC),
    dt.datetime(50, 6, 1, 12, 0, 0, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    # Another zone on the way in: stored as the same instant, answered in UTC.
    dt.datetime(2026, 7, 1, 2, 30, 0, 456789, tzinfo=dt.timezone(dt.timedelta(hours=5))),
]
CONFIGS = [
    {},
    {"count": 3},
    {"packetSize": 56, "count": 4, "extra": [1, 2.5, None, True, "é\u2028"]},
    {"count": 2**70},  # beyond orjson's integers: the stdlib reads it
    {"note": "surrogate pair \U0001f600", "n": -0.0, "f": 1.5e-7},
]


@pytest.mark.django_db
def test_list_items_equal_detail_answers_for_tricky_values(world: World):
    for i, moment in enumerate(MOMENTS):
        monitor = Monitor.objects.create(
            customer=world.c1,
            name=f"m{i}",
            hostname="127.0.0.1",
            config=CONFIGS[i % len(CONFIGS)],
            allowed_check_country_codes=[["DE", "FR"], None, []][i % 3],
        )
        Monitor.objects.filter(pk=monitor.pk).update(
            created_at=moment, updated_at=moment, last_checked_at=moment if i % 2 else None
        )
    items = world.api("viewer", "GET", "/api/icmp-monitors?perPage=200").json()["items"]
    seen = {item["name"] for item in items}
    assert {f"m{i}" for i in range(len(MOMENTS))} <= seen
    for item in items:
        detail = world.api("viewer", "GET", f"/api/icmp-monitors/{item['publicId']}").json()
        item.pop("customerName")
        assert item == detail
        monitor = Monitor.objects.get(pk=item["id"])
        assert item["createdAt"] == _iso(monitor.created_at)


@pytest.mark.django_db
def test_the_list_query_loads_text_on_postgresql(world: World):
    """The fast path is taken (else it would only cost): on PostgreSQL the timestamps arrive
    as text from the loader, and JSON columns go through fastload.json_value."""
    Monitor.objects.create(customer=world.c1, name="m", hostname="127.0.0.1", config={"count": 2})
    options = fastload.list_options(connection, ["config"])
    assert options["converters"] == {"config": fastload.json_value}
    entry = sqlcache.compile_queryset(
        Monitor.objects.filter(name="m").values("created_at", "config")
    )
    rows = sqlcache.execute(entry, **options)
    assert rows[0][1] == {"count": 2}
    if connection.vendor == "postgresql":
        assert isinstance(rows[0][0], str) and rows[0][0].endswith("Z")
        # Django's own reading of the same query is untouched.
        assert isinstance(sqlcache.execute(entry)[0][0], dt.datetime)
    else:
        assert "loaders" not in options


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 14:09:07+00", "2026-12-03T14:09:07.000Z"),
        ("2026-12-03 14:09:07.1+00", "2026-12-03T14:09:07.100Z"),
        ("2026-12-03 14:09:07.12+00", "2026-12-03T14:09:07.120Z"),
        ("2026-12-03 14:09:07.000999+00", "2026-12-03T14:09:07.000Z"),
        ("2026-12-03 14:09:07.999999+00", "2026-12-03T14:09:07.999Z"),
        ("0050-06-01 12:00:00+00", "0050-06-01T12:00:00.000Z"),
        ("2026-12-03 14:09:07+01", None),
        ("2026-12-03 14:09:07.5+05:30", None),
        ("12026-12-03 14:09:07+00", None),
        ("0050-06-01 12:00:00+00 BC", None),
        ("infinity", None),
    ],
)
def test_iso_text(text, expected):
    assert fastload.iso_text(text) == expected


def test_iso_text_is_what_iso_makes():
    for moment in MOMENTS:
        utc = moment.astimezone(dt.UTC)
        fraction = f".{utc.microsecond:06d}".rstrip("0").rstrip(".")
        text = utc.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0") + fraction + "+00"
        if utc.year < 1000:
            text = f"{utc.year:04d}" + text[text.index("-") :]
        assert fastload.iso_text(text) == _iso(utc), text


@pytest.mark.django_db
def test_loader_falls_back_to_parsing(world: World):
    """A shape the slicing does not take (another offset) is parsed and formatted as before."""
    if connection.vendor != "postgresql":
        return
    connection.ensure_connection()
    loader = fastload.IsoTimestamptzLoader(0, connection.connection)
    assert loader.load(b"2026-12-03 15:09:07.5+01") == "2026-12-03T14:09:07.500Z"
    assert loader.load(b"2026-12-03 14:09:07.5+00") == "2026-12-03T14:09:07.500Z"


def test_json_value_is_djangos():
    from django.db.models import JSONField

    field = JSONField()
    for text in [
        '{"a": 1}',
        "[1, 2.5, null]",
        '"x"',
        "1" + "0" * 30,
        '{"s": "\\ud800"}',
        "not json",
    ]:
        assert fastload.json_value(text) == field.from_db_value(text, None, None), text
    assert fastload.json_value(None) is None


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_value_reads_any_json_as_django(value):
    from django.db.models import JSONField

    text = json.dumps(value)
    assert fastload.json_value(text) == JSONField().from_db_value(text, None, None)
