"""SmokePing-style latency charts, rendered on the server as SVG (no JavaScript, so they pass
the strict CSP and work as image files): the RTT spread from min to max as grey smoke, the
median as a line coloured by packet loss, time down and in maintenance shaded, incidents
marked. The page styles the chart from app.css; a standalone image carries its own <style>."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from monitors.series import Point, Series

# Loss colours as SmokePing draws them: (upper bound in %, CSS class, legend text).
LOSS_LEVELS = [
    (0.0, "loss-0", "0 % loss"),
    (5.0, "loss-5", "≤ 5 %"),
    (20.0, "loss-20", "≤ 20 %"),
    (100.0, "loss-high", "> 20 %"),
]
DOWN_SHARE = 0.5  # a column at least this much down (or maintenance) is shaded in full

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 10, 16, 66

# The page has the same rules in static/portal/app.css (themed there); an image file carries
# these, since nothing styles it from outside.
STANDALONE_CSS = (
    "svg{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    ".bg{fill:#fff}"
    "text{font-size:11px;fill:#5b6573}"
    ".title{font-size:12px;fill:#1f2937;font-weight:600}"
    ".grid{stroke:#d5d9e0;stroke-dasharray:3 3}"
    ".frame{fill:none;stroke:#c2c8d0}"
    ".band{fill:rgba(110,118,129,.35);stroke:none}"
    ".med{fill:none;stroke-width:2}"
    ".loss-0{stroke:#16a34a}.loss-5{stroke:#0284c7}.loss-20{stroke:#9333ea}"
    ".loss-high{stroke:#dc2626}"
    ".down{fill:rgba(220,38,38,.18)}.down-part{fill:rgba(220,38,38,.07)}"
    ".maint{fill:rgba(217,160,6,.22)}"
    ".incident line{stroke-width:1.5;stroke-dasharray:4 2}"
    ".incident rect{stroke:none}"
    ".sev-down line{stroke:#b91c1c}.sev-down rect{fill:#b91c1c}"
    ".sev-degraded line{stroke:#d97706}.sev-degraded rect{fill:#d97706}"
    ".empty{font-size:14px}"
)


@dataclass
class _Column:
    """Points merged into one drawn column (at most one per two pixels)."""

    t0: datetime
    t1: datetime
    lo: float | None
    mid: float | None
    hi: float | None
    sent: int
    received: int
    down: float  # share of the counted time
    maintenance: float

    @property
    def loss(self) -> float | None:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else None

    @property
    def loss_class(self) -> str | None:
        """The median line's colour; none at all when nothing came back."""
        loss = self.loss
        if loss is None or loss >= 100.0 or self.mid is None:
            return None
        return next(cls for bound, cls, _ in LOSS_LEVELS if loss <= bound)

    @property
    def shade(self) -> str | None:
        if self.down >= DOWN_SHARE or (self.sent and not self.received):
            return "down"
        return "down-part" if self.down > 0 else None


def _merge(points: list[Point], t0: datetime, t1: datetime) -> _Column:
    counted = sum(p.counted_seconds for p in points)
    mids = [p.rtt_p50 for p in points if p.rtt_p50 is not None]
    los = [p.rtt_min for p in points if p.rtt_min is not None]
    his = [p.rtt_max for p in points if p.rtt_max is not None]
    return _Column(
        t0=t0,
        t1=t1,
        lo=min(los) if los else None,
        mid=statistics.median(mids) if mids else None,
        hi=max(his) if his else None,
        sent=sum(p.sent for p in points),
        received=sum(p.received for p in points),
        down=sum(p.down_seconds for p in points) / counted if counted else 0.0,
        maintenance=sum(p.maintenance_seconds for p in points) / counted if counted else 0.0,
    )


def _columns(series: Series, max_columns: int) -> list[_Column]:
    """The points bucketed by time into at most `max_columns` columns. A column reaches at
    least one resolution past its last point (a check stands for its interval), but never
    into the next column. The newest one would reach past the end: it is drawn ending there,
    as wide as it stands for, rather than as a sliver at the edge."""
    span = (series.end - series.start).total_seconds()
    width = timedelta(seconds=span / max(1, max_columns))
    groups: dict[int, list[Point]] = {}
    for point in series.points:
        groups.setdefault(max(0, (point.start - series.start) // width), []).append(point)
    columns = []
    for _, points in sorted(groups.items()):
        t0 = max(points[0].start, series.start)
        t1 = max(points[-1].end, points[-1].start + series.resolution, t0)
        columns.append(_merge(points, t0, t1))
    if columns and columns[-1].t1 > series.end:
        last = columns[-1]
        # Never back over the column before it.
        earliest = min(last.t0, columns[-2].t0 + width) if len(columns) > 1 else series.start
        last.t0 = max(earliest, min(last.t0, series.end - (last.t1 - last.t0)))
        last.t1 = series.end
    for before, after in itertools.pairwise(columns):
        before.t1 = min(before.t1, after.t0)
    return columns


def _nice_step(top: float, lines: int = 4) -> float:
    raw = top / lines
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _ceiling(columns: list[_Column]) -> float:
    """The y-axis top: the highest max, unless a few spikes would flatten everything else
    (then they are cut at the top, as SmokePing does)."""
    his = sorted(c.hi for c in columns if c.hi is not None)
    mids = sorted(c.mid for c in columns if c.mid is not None)
    if not his:
        return 1.0
    peak = his[-1]
    if mids:
        typical = mids[int(0.95 * (len(mids) - 1))]
        peak = min(peak, max(3 * typical, his[int(0.95 * (len(his) - 1))]))
    return peak if peak > 0 else 1.0


def _time_ticks(series: Series) -> list[tuple[datetime, str]]:
    """Where the time axis is labelled, in the current time zone: every 10 minutes over an
    hour, 3 hours over a day, daily over a week, Mondays over a month, months over a year."""
    zone = timezone.get_current_timezone()
    start, end = series.start.astimezone(zone), series.end.astimezone(zone)
    key = series.range.key
    ticks: list[tuple[datetime, str]] = []
    if key in ("1h", "24h"):
        step = 10 if key == "1h" else 180  # minutes
        minutes = start.hour * 60 + start.minute
        at = start.replace(second=0, microsecond=0) + timedelta(minutes=-minutes % step)
        while at <= end:
            ticks.append((at, dateformat.format(at, "H:i")))
            at += timedelta(minutes=step)
        return ticks
    day = start.date()
    while day <= end.date():
        at = datetime.combine(day, time(0), tzinfo=zone)
        if key == "1y":
            if day.day == 1 and start <= at:
                ticks.append((at, dateformat.format(at, "Y" if day.month == 1 else "M")))
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            continue
        if start <= at and (key == "7d" or day.weekday() == 0):
            ticks.append((at, dateformat.format(at, "D j" if key == "7d" else "D j M")))
        day += timedelta(days=1)
    return ticks


def _fmt(at: datetime, key: str) -> str:
    local = timezone.localtime(at)
    return dateformat.format(local, "H:i" if key in ("1h", "24h") else "D j M H:i")


def _union(spans: Iterable[tuple[datetime, datetime]], slack: timedelta) -> list[list[datetime]]:
    """Spans joined where they overlap or nearly touch, so adjacent columns become one rect."""
    joined: list[list[datetime]] = []
    for lo, hi in sorted(spans):
        if joined and lo <= joined[-1][1] + slack:
            joined[-1][1] = max(joined[-1][1], hi)
        else:
            joined.append([lo, hi])
    return joined


def smoke_svg(
    series: Series, width: int = 720, height: int = 220, standalone: bool = False
) -> SafeString:
    left, right = PAD_LEFT, width - PAD_RIGHT
    top_y, bottom_y = PAD_TOP, height - PAD_BOTTOM
    plot_w, plot_h = right - left, bottom_y - top_y
    span = (series.end - series.start).total_seconds()
    columns = _columns(series, plot_w // 2)
    ceiling = _ceiling(columns)
    step = _nice_step(ceiling)
    top = step * math.ceil(ceiling / step)
    slack = series.resolution / 2
    key = series.range.key

    def px(at: datetime) -> float:
        offset = min(max((at - series.start).total_seconds(), 0.0), span)
        return left + offset / span * plot_w

    def x(at: datetime) -> str:
        return f"{px(at):.1f}"

    def width_of(lo: datetime, hi: datetime, least: float) -> str:
        return f"{max(least, px(hi) - px(lo)):.1f}"

    def y(ms: float) -> str:
        return f"{bottom_y - min(ms, top) / top * plot_h:.1f}"

    def connected(before: _Column, after: _Column) -> bool:
        return after.t0 - before.t1 <= slack

    # Horizontal grid, labelled in ms.
    values = [round(i * step, 9) for i in range(round(top / step) + 1)]
    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" text-anchor="end">{}</text>',
        ((left, right, y(v), y(v), left - 5, f"{float(y(v)) + 4:.1f}", f"{v:g}") for v in values),
    )
    time_axis = SafeString(
        "".join(
            format_html(
                '<line x1="{x}" x2="{x}" y1="{y0}" y2="{y1}" class="grid"/>'
                '<text x="{x}" y="{ty}" text-anchor="middle">{label}</text>',
                x=x(at),
                y0=top_y,
                y1=bottom_y,
                ty=bottom_y + 20,
                label=label,
            )
            for at, label in _time_ticks(series)
            # Half a label's width (at the phone size) from either edge, or it would run into
            # the y-axis or off the image.
            if left + 5.6 * len(label) <= px(at) <= right - 5.6 * len(label)
        )
    )

    # Shading: maintenance (the columns' own time and the planned windows), then downtime.
    maintenance = _union(
        [(c.t0, c.t1) for c in columns if c.maintenance >= DOWN_SHARE] + series.maintenance,
        slack,
    )
    shades = [
        ("maint", lo, hi, f"Maintenance from {_fmt(lo, key)} to {_fmt(hi, key)}")
        for lo, hi in maintenance
    ]
    for cls, label in (("down", "Down"), ("down-part", "Partly down")):
        for lo, hi in _union([(c.t0, c.t1) for c in columns if c.shade == cls], slack):
            shades.append((cls, lo, hi, f"{label} from {_fmt(lo, key)} to {_fmt(hi, key)}"))
    shading = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>',
        (
            (x(lo), top_y, width_of(lo, hi, 0.8), plot_h, cls, title)
            for cls, lo, hi, title in shades
        ),
    )

    # The smoke: one polygon per run of connected columns, min to max.
    bands, run = [], []
    for column in [*columns, None]:
        if column is not None and column.hi is not None and column.lo is not None:
            if run and not connected(run[-1], column):
                bands.append(run)
                run = []
            run.append(column)
            continue
        if run:
            bands.append(run)
            run = []
    smoke = format_html_join(
        "",
        '<polygon points="{}" class="band"/>',
        (
            (
                " ".join(
                    [f"{x(c.t0)},{y(c.hi)} {x(c.t1)},{y(c.hi)}" for c in band]
                    + [f"{x(c.t1)},{y(c.lo)} {x(c.t0)},{y(c.lo)}" for c in reversed(band)]
                ),
            )
            for band in bands
        ),
    )

    # The median: steps, one polyline per run of connected columns of one loss colour. A run
    # that continues another starts at its level, so the step between them is drawn too.
    lines: list[tuple[str, list[str]]] = []
    previous: _Column | None = None
    for column in columns:
        cls = column.loss_class
        if cls is None:
            previous = None
            continue
        assert column.mid is not None
        joined = previous is not None and connected(previous, column)
        vertices = [f"{x(column.t0)},{y(column.mid)}", f"{x(column.t1)},{y(column.mid)}"]
        if joined and lines[-1][0] == cls:
            lines[-1][1].extend(vertices)
        else:
            if joined:
                assert previous is not None and previous.mid is not None
                vertices.insert(0, f"{x(column.t0)},{y(previous.mid)}")
            lines.append((cls, vertices))
        previous = column
    medians = format_html_join(
        "",
        '<polyline points="{}" class="med {}"/>',
        ((" ".join(vertices), cls) for cls, vertices in lines),
    )

    # Incidents: a line where each opened, a bar along the top for as long as it lasted.
    marks = []
    for incident in series.incidents:
        severity = "degraded" if incident.severity == "degraded" else "down"
        until = incident.closed_at or series.end
        title = f"{severity.capitalize()} incident opened {_fmt(incident.opened_at, '7d')}, " + (
            f"closed {_fmt(incident.closed_at, '7d')}" if incident.closed_at else "still open"
        )
        line = (
            format_html(
                '<line x1="{x}" x2="{x}" y1="{}" y2="{}"/>',
                top_y,
                bottom_y,
                x=x(incident.opened_at),
            )
            if series.start <= incident.opened_at <= series.end
            else ""
        )
        marks.append(
            format_html(
                '<g class="incident sev-{}"><title>{}</title>{}'
                '<rect x="{}" y="{}" width="{}" height="4"/></g>',
                severity,
                title,
                line,
                x(incident.opened_at),
                top_y - 5,
                width_of(incident.opened_at, until, 1.5),
            )
        )
    incidents = SafeString("".join(marks))

    empty = SafeString("")
    if not columns:
        empty = format_html(
            '<text x="{}" y="{}" text-anchor="middle" class="empty">No checks in this range</text>',
            left + plot_w / 2,
            top_y + plot_h / 2,
        )

    legend = _legend(left, height)
    label = f"{series.title}: round-trip time over {series.range.label}"
    head = format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
        'height="{h}" class="latency-chart" role="img" aria-label="{label}">',
        w=width,
        h=height,
        label=label,
    )
    extra = SafeString("")
    if standalone:
        extra = format_html(
            '<title>{}</title><style>{}</style><rect width="{}" height="{}" class="bg"/>'
            '<text x="{}" y="11" class="title">{}</text>',
            label,
            mark_safe(STANDALONE_CSS),  # noqa: S308 - a constant of this module
            width,
            height,
            left,
            f"{series.title} · {series.range.label}",
        )
    return format_html(
        "{head}{extra}"
        '<text x="{unit_x}" y="{unit_y}" text-anchor="end">ms</text>'
        '<g class="plot">{shading}{grid}{time_axis}{smoke}{medians}{incidents}{empty}'
        '<rect x="{left}" y="{top_y}" width="{plot_w}" height="{plot_h}" class="frame"/></g>'
        "{legend}</svg>",
        head=head,
        extra=extra,
        unit_x=left - 5,
        unit_y=bottom_y + 20,
        shading=shading,
        grid=grid,
        time_axis=time_axis,
        smoke=smoke,
        medians=medians,
        incidents=incidents,
        empty=empty,
        left=left,
        top_y=top_y,
        plot_w=plot_w,
        plot_h=plot_h,
        legend=legend,
    )


def _legend(left: int, height: int) -> SafeString:
    """Two rows of four keys: the loss colours, then what the shapes mean."""
    cell = 160
    rows = [
        [
            (format_html('<line x1="0" x2="14" y1="-4" y2="-4" class="med {}"/>', cls), text)
            for _, cls, text in LOSS_LEVELS
        ],
        [
            (
                SafeString('<rect y="-10" width="14" height="10" class="band"/>'),
                "min\N{EN DASH}max RTT",
            ),
            (SafeString('<rect y="-10" width="14" height="10" class="down"/>'), "down"),
            (SafeString('<rect y="-10" width="14" height="10" class="maint"/>'), "maintenance"),
            (
                SafeString(
                    '<g class="incident sev-down"><line x1="4" x2="4" y1="-11" y2="1"/></g>'
                    '<g class="incident sev-degraded"><line x1="11" x2="11" y1="-11" y2="1"/></g>'
                ),
                "incident: down / degraded",
            ),
        ],
    ]
    keys = format_html_join(
        "",
        '<g transform="translate({},{})">{}<text x="19" y="0">{}</text></g>',
        (
            (left + i * cell, height - 28 + r * 22, swatch, text)
            for r, row in enumerate(rows)
            for i, (swatch, text) in enumerate(row)
        ),
    )
    return format_html('<g class="legend">{}</g>', keys)
