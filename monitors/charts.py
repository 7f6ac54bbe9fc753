"""A small server-rendered SVG latency chart (no JavaScript, so it passes the CSP and works
everywhere): RTT min-max as a band, the average as a line, lost echoes marked in red, checks
with no reply at all shaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from monitors.models import CheckResult


@dataclass
class Chart:
    svg: SafeString
    max_ms: float


def latency_svg(results: Sequence[CheckResult], width: int = 720, height: int = 180) -> Chart:
    """`results` oldest first."""
    pad_left, pad_bottom, pad_top = 44, 18, 8
    plot_w, plot_h = width - pad_left - 6, height - pad_bottom - pad_top
    values = [r.rtt_max for r in results if r.rtt_max is not None]
    top = max(values, default=1.0) * 1.15 or 1.0
    n = max(len(results), 1)

    def x(i: int) -> float:
        return pad_left + (i + 0.5) * plot_w / n

    def y(ms: float) -> float:
        return pad_top + plot_h - (ms / top) * plot_h

    band_upper = [(x(i), y(r.rtt_max)) for i, r in enumerate(results) if r.rtt_max is not None]
    band_lower = [(x(i), y(r.rtt_min)) for i, r in enumerate(results) if r.rtt_min is not None]
    band = " ".join(f"{px:.1f},{py:.1f}" for px, py in band_upper + band_lower[::-1])
    line = " ".join(
        f"{x(i):.1f},{y(r.rtt_avg):.1f}" for i, r in enumerate(results) if r.rtt_avg is not None
    )
    column = plot_w / n
    outages = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="down"><title>{}</title></rect>',
        (
            (
                f"{x(i) - column / 2:.1f}",
                pad_top,
                f"{column:.1f}",
                plot_h,
                f"{r.due_at:%H:%M:%S} no reply",
            )
            for i, r in enumerate(results)
            if r.received == 0
        ),
    )
    losses = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="loss"><title>{}</title></circle>',
        (
            (f"{x(i):.1f}", pad_top + 4, f"{r.due_at:%H:%M:%S} loss {r.loss_percent:g}%")
            for i, r in enumerate(results)
            if r.received and r.loss_percent
        ),
    )
    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" class="axis">{}</text>',
        (
            (pad_left, width - 6, f"{y(v):.1f}", f"{y(v):.1f}", 2, f"{y(v) + 4:.1f}", f"{v:.3g} ms")
            for v in (top / 1.15, top / 2.3)
        ),
    )
    svg = format_html(
        '<svg viewBox="0 0 {w} {h}" class="latency-chart" role="img" aria-label="{label}">'
        '{grid}{outages}<polygon points="{band}" class="band"/>'
        '<polyline points="{line}" class="avg"/>{losses}</svg>',
        w=width,
        h=height,
        label=f"Round-trip time of the last {len(results)} checks",
        grid=grid,
        outages=outages,
        band=band,
        line=line,
        losses=losses,
    )
    return Chart(svg=svg, max_ms=top / 1.15)
