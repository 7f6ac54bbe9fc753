"""A small server-rendered SVG of one ping's echoes: a bar per sequence (its RTT) and, for a lost
echo, a pale red column the height of the plot, so it cannot pass for a short RTT. No
JavaScript, so it passes the CSP and works everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from pings.models import PingReply

MIN_BAR = 2.0  # px: a tiny RTT beside a large one stays visible


def replies_svg(replies: Sequence[PingReply], width: int = 480, height: int = 120) -> SafeString:
    if not replies:
        return SafeString("")
    pad_left, pad_bottom, pad_top = 52, 6, 8
    plot_w, plot_h = width - pad_left - 6, height - pad_bottom - pad_top
    rtts = [r.rtt_ms for r in replies if r.rtt_ms is not None]
    peak = max(rtts, default=0.0)
    top = peak * 1.15 or 1.0
    column = plot_w / len(replies)
    bar = max(1.0, column * 0.7)

    def x(i: int) -> float:
        return pad_left + i * column + (column - bar) / 2

    def shape(i: int, reply: PingReply) -> tuple[str, ...]:
        if reply.rtt_ms is None:
            return (
                f"{x(i):.1f}",
                f"{pad_top:.1f}",
                f"{bar:.1f}",
                f"{plot_h:.1f}",
                "lost",
                f"#{reply.sequence}: lost",
            )
        h = max(MIN_BAR, reply.rtt_ms / top * plot_h)
        return (
            f"{x(i):.1f}",
            f"{pad_top + plot_h - h:.1f}",
            f"{bar:.1f}",
            f"{h:.1f}",
            "echo",
            f"#{reply.sequence}: {reply.rtt_ms:g} ms",
        )

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>',
        (shape(i, r) for i, r in enumerate(replies)),
    )
    grid = SafeString("")
    if rtts:
        y = pad_top + plot_h - peak / top * plot_h
        grid = format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
            '<text x="2" y="{}" class="axis">{} ms</text>',
            pad_left,
            width - 6,
            f"{y:.1f}",
            f"{y:.1f}",
            f"{y + 4:.1f}",
            f"{peak:.3g}",
        )
    lost = len(replies) - len(rtts)
    return format_html(
        '<svg viewBox="0 0 {} {}" class="ping-chart" role="img" aria-label="{}">{}{}</svg>',
        width,
        height,
        f"Round-trip time of {len(replies)} echoes, {lost} lost",
        grid,
        bars,
    )
