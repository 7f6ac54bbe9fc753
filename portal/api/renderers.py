"""DRF's JSON, byte for byte, made by orjson.

The stdlib encoder was the largest single cost of a monitor list after its query
(bench/api_profile.py: ~0.3 ms of ~2 ms for 50 monitors); orjson writes the same 37 KB in a
tenth of that. The two write the same bytes for strings (DRF's U+2028 and U+2029 escapes
added here), integers, booleans, null, and floats from 1e-4 up to 1e16 (both write the
shortest repr there: `1.0`, `0.05`). Anything else is left to DRF's own renderer, which then
answers exactly as before or fails as before:
- floats that Python writes with an exponent (`1e-05`, `1e+16`; orjson: `0.00001`, `1e16`),
  NaN and ±Infinity (DRF refuses them, STRICT_JSON; orjson would write null);
- every type DRF's encoder converts (datetimes with its milliseconds and "Z", Decimal, UUID,
  lazy strings, ...): the API's own answers are built of plain values, so this is rare;
- what orjson refuses (integers beyond 64 bits, keys that are not strings, strings that are
  not valid UTF-8), and indented output (`Accept: application/json; indent=4`).
Deciding costs one pass over the values (~0.06 ms for 50 monitors), still well under the
stdlib's encoding.

A `RenderedRow` is a part already checked and written (a list's row, kept by
portal.rowcache): its bytes go into the answer as they are, and the check does not walk it
again. To DRF's renderer (the fallback) and to anyone reading `response.data` it is the
mapping it was made from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder


class RenderedRow(Mapping):
    """A dict that `orjson_writes_it_as_drf`, kept only as its JSON, written once: a
    snapshot. A Mapping but not a dict: orjson hands it to `_fragment`, DRF's encoder makes
    it a dict again (read back from the JSON, which gives the same bytes: only plain values
    are in it). A kept monitor row is ~1 KB, a quarter of its dict."""

    __slots__ = ("_read", "fragment", "json")

    def __init__(self, value: dict[str, Any]) -> None:
        # A copy of its own size: the bytes orjson returns keep its whole buffer (~16 KB).
        self.json = memoryview(orjson.dumps(value)).tobytes()
        self.fragment = orjson.Fragment(self.json)
        self._read: dict[str, Any] | None = None

    @property
    def value(self) -> dict[str, Any]:
        """A new dict of what it holds (changing it changes nothing here)."""
        return orjson.loads(self.json)

    def _mapping(self) -> dict[str, Any]:
        # Read once for the mapping's methods: DRF's encoder takes it key by key.
        if self._read is None:
            self._read = orjson.loads(self.json)
        return self._read

    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return f"RenderedRow({self.json.decode()})"


def render_row(value: dict[str, Any]) -> RenderedRow | dict[str, Any]:
    """`value` written now when orjson writes it as DRF does, else `value` itself (DRF's
    renderer will write the answer it is part of)."""
    if orjson_writes_it_as_drf(value):
        try:
            return RenderedRow(value)
        except orjson.JSONEncodeError:
            pass
    return value


def _fragment(value: Any) -> orjson.Fragment:
    if type(value) is RenderedRow:
        return value.fragment
    raise TypeError


def orjson_writes_it_as_drf(data: Any) -> bool:
    """Whether `data` holds only dicts, lists, tuples, strings, integers, booleans, None and
    floats that both encoders write alike (0 and from 1e-4 up to 1e16: finite and without
    an exponent in Python's repr), or `RenderedRow`s (checked when they were made)."""
    stack: list[Any] = [(data,)]
    pop, push = stack.pop, stack.append
    plain, containers = _PLAIN, _CONTAINERS
    while stack:
        container = pop()
        for value in container:  # a tuple, a list or a dict's values
            kind = type(value)
            if kind in plain:
                continue
            if kind is float:
                if 1e-4 <= abs(value) < 1e16 or value == 0.0:  # NaN fails both
                    continue
                return False
            if kind in containers or isinstance(value, dict | list | tuple):
                push(value.values() if isinstance(value, dict) else value)
            elif not isinstance(value, str | int):  # subclasses: both write their value
                return False
    return True


# Exact types (a set lookup per value): subclasses take the isinstance() path above.
_PLAIN = frozenset({str, int, bool, type(None), RenderedRow})
_CONTAINERS = frozenset({dict, list, tuple})


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if (
            data is not None
            and self.encoder_class is JSONEncoder
            and not self.ensure_ascii
            and self.compact
            and self.strict
            and self.get_indent(accepted_media_type or "", renderer_context or {}) is None
            and orjson_writes_it_as_drf(data)
        ):
            try:
                out = orjson.dumps(data, default=_fragment)
            except orjson.JSONEncodeError:
                pass  # DRF's renderer answers, or fails as it always did
            else:
                if b"\xe2" not in out:  # one memchr: U+2028 and U+2029 begin with this byte
                    return out
                return out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return super().render(data, accepted_media_type, renderer_context)
