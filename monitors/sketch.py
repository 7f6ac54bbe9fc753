"""A mergeable RTT histogram with logarithmic buckets (the DDSketch idea): any quantile comes
back within 1 % of a value actually seen, and two histograms merge by adding counts, so hour
and day rollups are exact merges of minutes rather than averages of averages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
SMALLEST_MS = 1e-3  # everything at or below a microsecond shares one bucket


def bucket(rtt_ms: float) -> int:
    if rtt_ms <= SMALLEST_MS:
        return math.ceil(math.log(SMALLEST_MS) / _LOG_GAMMA)
    return math.ceil(math.log(rtt_ms) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The value that is within RELATIVE_ACCURACY of everything in the bucket."""
    return 2 * GAMMA**index / (GAMMA + 1)


def add(histogram: dict[str, int], rtts: Iterable[float]) -> dict[str, int]:
    """Add values to a histogram (keys are strings: it is stored as JSON)."""
    for rtt in rtts:
        key = str(bucket(rtt))
        histogram[key] = histogram.get(key, 0) + 1
    return histogram


def merge(into: dict[str, int], other: Mapping[str, int]) -> dict[str, int]:
    for key, count in other.items():
        into[key] = into.get(key, 0) + count
    return into


def quantile(histogram: Mapping[str, int], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1), within RELATIVE_ACCURACY."""
    return quantiles(histogram, (q,))[0]


def quantiles(histogram: Mapping[str, int], qs: Sequence[float]) -> list[float | None]:
    """Several nearest-rank quantiles (ascending `qs`) in one pass over the sorted buckets:
    what a rollup stores for every row it writes, so worth one sort instead of one per q."""
    total = sum(histogram.values())
    if not total:
        return [None] * len(qs)
    ranks = [max(1, math.ceil(q * total)) for q in qs]
    found: list[float | None] = []
    seen = 0
    # Keys are strings (JSON); parsed once each, sorted with their counts.
    for index, count in sorted([(int(k), v) for k, v in histogram.items()]):
        seen += count
        while seen >= ranks[len(found)]:
            found.append(bucket_value(index))
            if len(found) == len(ranks):
                return found
    raise AssertionError("unreachable: the ranks add up to the total")


def exact_quantile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank quantile of raw values (what the histogram approximates)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]
