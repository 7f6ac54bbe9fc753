"""The API's JSON renderer (orjson) writes DRF's JSONRenderer's bytes, or lets DRF write them."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.db import models
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from rest_framework import renderers as drf_renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from portal.api import renderers
from tests.strategies import json_values

DRF = drf_renderers.JSONRenderer()
FAST = renderers.JSONRenderer()


class Colour(models.TextChoices):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1 + 0.2,
    1 / 3,
    0.05,
    0.0001,
    0.00012345,
    0.00009999,
    1.5e-5,
    1e-5,
    9.99e-6,
    1e-7,
    5e-324,
    123456789012345.6,
    999999999999999.9,
    1e15,
    9999999999999998.0,
    1e16,
    1.5e17,
    1.7976931348623157e308,
    -2.5e-8,
]
STRINGS = [
    "",
    "plain",
    'quote " and \\ backslash',
    "\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f",
    "Zürich, Straße, 東京, 🙂",
    "line\u2028separator\u2029paragraph",
    "\ufeffbom",
    "a,0.00001 and [1e5 in text",
]
VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64,  # beyond orjson: DRF's renderer writes it
    *FLOATS,
    *STRINGS,
    dt.datetime(2026, 12, 3, 14, 9, 7, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 14, 9, 7, 1000, tzinfo=ZoneInfo("Europe/Berlin")),
    dt.datetime(2026, 12, 3, 14, 9, 7, 999),  # naive
    dt.date(2026, 12, 3),
    dt.time(14, 9, 7, 500),
    dt.timedelta(seconds=90, microseconds=5),
    decimal.Decimal("1.10"),
    decimal.Decimal("0.00001"),
    uuid.UUID("0b0c9a1e-3f7e-4a55-9d0f-6d3c1c0f7a11"),
    gettext_lazy("This field is required."),
    Colour.RED,
    Level.HIGH,
    b"bytes",
    (1, 2.5, "three"),
    [],
    {},
    {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
    ReturnDict({"a": 1}, serializer=None),
    ReturnList([1.0, {"b": None}], serializer=None),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_bytes_as_drf_for_tricky_values(value):
    data = {"value": value, "list": [value, {"nested": value}], "after": 1.0}
    assert FAST.render(data) == DRF.render(data)
    assert FAST.render([value]) == DRF.render([value])
    assert FAST.render(value) == DRF.render(value)


def test_same_bytes_for_every_value_at_once():
    data = {"items": [{"v": v} for v in VALUES], "total": len(VALUES)}
    assert FAST.render(data) == DRF.render(data)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_same_bytes_as_drf_for_any_json(value):
    assert FAST.render({"data": value}) == DRF.render({"data": value})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_fail_as_they_did(bad):
    """DRF (STRICT_JSON) refuses NaN and infinities; orjson would write null."""
    for data in ({"rtt": bad, "other": None}, [None, [bad]], bad):
        with pytest.raises(ValueError):
            DRF.render(data)
        with pytest.raises(ValueError):
            FAST.render(data)


def test_unserializable_fails_as_it_did():
    for data in ({"x": object()}, {"s": "\ud800"}):
        with pytest.raises((TypeError, UnicodeEncodeError)) as drf_error:
            DRF.render(data)
        with pytest.raises(drf_error.type):
            FAST.render(data)


def test_indented_output_is_drfs():
    media = "application/json; indent=4"
    data = {"a": [1, 2.5, None], "b": "é"}
    assert FAST.render(data, media, {}) == DRF.render(data, media, {})
    assert b"\n    " in FAST.render(data, media, {})


def test_none_renders_empty():
    assert FAST.render(None) == DRF.render(None) == b""


def test_orjson_writes_the_plain_answers(monkeypatch):
    """The fast path is taken (else this renderer would only cost more): DRF's render is not
    called for ordinary data, and is for a float that orjson writes differently."""
    called = []

    def drf_render(self, data, accepted_media_type=None, renderer_context=None):
        called.append(data)
        return b"drf"

    monkeypatch.setattr(drf_renderers.JSONRenderer, "render", drf_render)
    plain = {"items": [{"id": 1, "rtt": 0.05, "name": "é", "when": None}], "total": 1}
    assert (
        FAST.render(plain)
        == b'{"items":[{"id":1,"rtt":0.05,"name":"\xc3\xa9","when":null}],"total":1}'
    )
    assert called == []
    assert FAST.render({"rtt": 1.5e-5}) == b"drf"
    assert FAST.render({"rtt": 1e16}) == b"drf"
    assert len(called) == 2


def test_the_api_uses_it():
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_RENDERER_CLASSES[0] is renderers.JSONRenderer


# --- rows written ahead (RenderedRow, kept by the monitor list) --------------------------------


def plain(data):
    """`data` with every RenderedRow made the dict it was made of."""
    if isinstance(data, renderers.RenderedRow):
        return plain(data.value)
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [plain(value) for value in data]
    return data


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_row_written_ahead_gives_drfs_bytes(value):
    row = renderers.render_row({"id": 1, "value": value, "name": "é\u2028"})
    if not renderers.orjson_writes_it_as_drf({"value": value}):
        assert type(row) is dict  # left to DRF's renderer, as before
    data = {"items": [row, renderers.render_row({"id": 2, "rtt": 0.05})], "total": 2}
    assert FAST.render(data) == DRF.render(plain(data))
    assert DRF.render(data) == DRF.render(plain(data))  # DRF's encoder reads it as a dict
    media = "application/json; indent=4"
    assert FAST.render(data, media, {}) == DRF.render(plain(data), media, {})


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_rows_written_ahead_beside_any_json(row_value, other):
    data = {"items": [renderers.render_row({"v": row_value}), other], "n": other}
    assert FAST.render(data) == DRF.render(plain(data))


def test_a_row_written_ahead_is_a_snapshot():
    made_of = {"id": 1, "name": "x", "config": {"count": 3}, "codes": ("DE",)}
    row = renderers.render_row(made_of)
    assert isinstance(row, renderers.RenderedRow)
    made_of["name"] = "changed after writing"
    made_of["config"]["count"] = 4
    assert FAST.render({"items": [row]}) == (
        b'{"items":[{"id":1,"name":"x","config":{"count":3},"codes":["DE"]}]}'
    )
    assert dict(row) == {"id": 1, "name": "x", "config": {"count": 3}, "codes": ["DE"]}
    assert row["config"] == {"count": 3} and len(row) == 4
    assert list(row) == ["id", "name", "config", "codes"]


def test_a_row_written_ahead_keeps_only_its_own_bytes():
    """orjson's bytes hold its whole output buffer (~16 KB): a kept row copies its ~1 KB out,
    or 10,000 kept monitor rows would hold 160 MB per worker instead of 10."""
    import tracemalloc

    value = {f"field{i}": f"value {i}" for i in range(30)}
    size = len(orjson.dumps(value))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = [renderers.RenderedRow(value) for _ in range(200)]
        per_row = (tracemalloc.get_traced_memory()[0] - before) / len(rows)
    finally:
        tracemalloc.stop()
    assert per_row < size + 400, (per_row, size)
