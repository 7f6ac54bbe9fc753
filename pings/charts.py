"""A small server-rendered SVG of one ping's echoes: a bar per sequence (its RTT), lost echoes as
red marks at the baseline. No JavaScript, so it passes the CSP and works everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from pings.models import PingReply


def replies_svg(replies: Sequence[PingReply], width: int = 480, height: int = 120) -> SafeString:
    if not replies:
        return SafeString("")
    pad_left, pad_bottom, pad_top = 44, 16, 8
    plot_w, plot_h = width - pad_left - 6, height - pad_bottom - pad_top
    top = max((r.rtt_ms for r in replies if r.rtt_ms is not None), default=1.0) * 1.15 or 1.0
    column = plot_w / len(replies)
    bar = max(1.0, column * 0.7)

    def x(i: int) -> float:
        return pad_left + i * column + (column - bar) / 2

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>',
        (
            (
                f"{x(i):.1f}",
                f"{pad_top + plot_h - h:.1f}",
                f"{bar:.1f}",
                f"{h:.1f}",
                "echo" if r.rtt_ms is not None else "lost",
                f"#{r.sequence}: {r.rtt_ms:g} ms"
                if r.rtt_ms is not None
                else f"#{r.sequence}: lost",
            )
            for i, r in enumerate(replies)
            for h in [(r.rtt_ms / top) * plot_h if r.rtt_ms is not None else 6.0]
        ),
    )
    peak = top / 1.15
    grid = format_html(
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/><text x="2" y="{}" class="axis">'
        "{} ms</text>",
        pad_left,
        width - 6,
        f"{pad_top + plot_h - peak / top * plot_h:.1f}",
        f"{pad_top + plot_h - peak / top * plot_h:.1f}",
        f"{pad_top + plot_h - peak / top * plot_h + 4:.1f}",
        f"{peak:.3g}",
    )
    lost = sum(1 for r in replies if r.rtt_ms is None)
    return format_html(
        '<svg viewBox="0 0 {} {}" class="ping-chart" role="img" aria-label="{}">{}{}</svg>',
        width,
        height,
        f"Round-trip time of {len(replies)} echoes, {lost} lost",
        grid,
        bars,
    )
