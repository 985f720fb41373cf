"""Charts for the console's insights page, drawn on the server as inline SVG: no JavaScript, nothing from a CDN.

Pure: plain Python and markupsafe, no Flask, no database; the console passes numbers in and gets markup back.
Each chart is an `<svg role="img">` named by its `<title>` and described by a `<desc>` that states the range and
each series' total and peak. No reading depends on colour alone: every series of a line chart has its own
colour (each at least 3:1 against white, WCAG 1.4.11), marker shape and dash pattern, and a legend names them;
bars are labelled directly with their name and value. The page puts the same numbers in a table beside each chart.
Every label is escaped: a topic or campaign id is text chosen by a mailer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WHITE = "#ffffff"
INK = "#1a1a1a"  # text: the stylesheet's --ink
MUTED = "#4a4a4a"  # axes and tick labels: the stylesheet's --muted
GRID = "#d9d9d9"  # decoration only: the tick labels carry the values
BAR = "#0b5394"  # the stylesheet's --accent
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LABEL_CHARS = 28  # longer labels are cut with an ellipsis on the chart (the table holds them whole)
ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class SeriesStyle:
    colour: str
    dash: str  # stroke-dasharray; "" is a solid line
    marker: str  # a key of _MARKERS


# Colour, dash and marker all change from one series to the next; colours are dark enough for 3:1 on white and
# apart in hue for the common colour-vision deficiencies (blue/orange first), the shapes tell them apart anyway.
STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#0b5394", "", "circle"),
    SeriesStyle("#b8410b", "8 4", "square"),
    SeriesStyle("#1e6b34", "2 3", "triangle"),
    SeriesStyle("#7b2d8e", "10 3 2 3", "diamond"),
    SeriesStyle("#1a1a1a", "14 4", "cross"),
    SeriesStyle("#a0165a", "4 4", "triangle_down"),
    SeriesStyle("#00646e", "12 3 3 3 3 3", "plus"),
    SeriesStyle("#6b5a00", "1 2", "ring"),
)
MAX_SERIES = len(STYLES)  # more would repeat a style: fold the rest into one series first (fold_series)


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a label and one value per day of the chart."""

    label: str
    values: tuple[float, ...]

    @property
    def total(self) -> float:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float


def fold_series(series: Sequence[Series], other_label: str, keep: int = MAX_SERIES - 1) -> list[Series]:
    """At most keep + 1 series: the `keep` largest by total (ties by label), the rest summed day by day as one."""
    if len(series) <= keep + 1:
        return list(series)
    ranked = sorted(series, key=lambda s: (-s.total, s.label))
    rest = ranked[keep:]
    summed = tuple(sum(values) for values in zip(*(s.values for s in rest), strict=True))
    return [*ranked[:keep], Series(other_label, summed)]


def nice_ticks(largest: float, integer: bool = True, most: int = 5) -> list[float]:
    """Axis ticks from 0 to a round number at or above `largest`, at steps of 1, 2, 2.5 or 5 times a power of ten
    (no 2.5 and nothing under 1 for counts); [0, 1] when there is nothing above zero."""
    if not largest > 0 or not math.isfinite(largest):
        return [0.0, 1.0]
    raw = largest / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    factors = (1.0, 2.0, 5.0, 10.0) if integer else (1.0, 2.0, 2.5, 5.0, 10.0)
    step = next(f * magnitude for f in factors if f * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, round(step))
    count = math.ceil(largest / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def format_number(value: float) -> str:
    """1234 -> '1,234'; 0.5 -> '0.5'; 2.345 -> '2.35' (counts are whole, rates get two decimals at most)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def short_label(label: str, chars: int = LABEL_CHARS) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def day_label(day: date, with_year: bool) -> str:
    return day.isoformat() if with_year else f"{day.day} {MONTHS[day.month - 1]}"


def _element(tag: str, content: str | None = None, *, children: str | None = None, **attributes: object) -> str:
    """One SVG element as text: its attributes and its text `content` escaped here, the one place escaping
    happens; `children` are elements made by this function. Attribute names lose a trailing underscore and get
    dashes for underscores (class_, stroke_width); a value of None or "" leaves the attribute out."""
    attrs = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
        for name, value in attributes.items()
        if value is not None and value != ""
    )
    inside = escape(content, quote=False) if content is not None else children
    return f"<{tag}{attrs}/>" if inside is None else f"<{tag}{attrs}>{inside}</{tag}>"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12, fill: str = MUTED, **more) -> str:
    return _element("text", content, x=_num(x), y=_num(y), text_anchor=anchor, font_size=size, fill=fill, **more)


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "circle":
        return _element("circle", cx=_num(x), cy=_num(y), r=4, fill=colour)
    if kind == "ring":
        return _element("circle", cx=_num(x), cy=_num(y), r=4, fill=WHITE, stroke=colour, stroke_width=2)
    if kind == "square":
        return _element("rect", x=_num(x - 3.5), y=_num(y - 3.5), width=7, height=7, fill=colour)
    shapes = {
        "triangle": "M{x},{t} L{r},{b} L{l},{b} Z",
        "triangle_down": "M{x},{b} L{r},{t} L{l},{t} Z",
        "diamond": "M{x},{tt} L{rr},{y} L{x},{bb} L{ll},{y} Z",
        "cross": "M{l},{t} L{r},{b} M{l},{b} L{r},{t}",
        "plus": "M{x},{tt} L{x},{bb} M{ll},{y} L{rr},{y}",
    }
    d = shapes[kind].format(
        x=_num(x),
        y=_num(y),
        l=_num(x - 4.5),
        r=_num(x + 4.5),
        t=_num(y - 4.5),
        b=_num(y + 4),
        ll=_num(x - 5),
        rr=_num(x + 5),
        tt=_num(y - 5),
        bb=_num(y + 5),
    )
    if kind in ("cross", "plus"):
        return _element("path", d=d, stroke=colour, stroke_width=2.5, fill="none")
    return _element("path", d=d, fill=colour)


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: Sequence[str]) -> Markup:
    if not ID_RE.fullmatch(chart_id):
        raise ValueError(f"not a usable element id: {chart_id!r}")
    title_and_desc = _element("title", title, id=f"{chart_id}-title") + _element("desc", desc, id=f"{chart_id}-desc")
    svg = _element(
        "svg",
        children=title_and_desc + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        role="img",
        aria_labelledby=f"{chart_id}-title",
        aria_describedby=f"{chart_id}-desc",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        class_="chart",
        font_family=FONT,
    )
    return Markup(svg)  # noqa: S704  (built by _element, which escapes every attribute and text)


def _empty(x: float, y: float, message: str) -> str:
    return _text(x, y, message, anchor="middle", size=14, fill=INK)


def line_chart(
    chart_id: str,
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    *,
    y_label: str,
    empty_text: str = "Nothing in these dates.",
    integer: bool = True,
    width: int = 720,
    height: int = 300,
) -> Markup:
    """A line per series over consecutive `days` (one value each), a y axis from 0, a legend below; each
    series' markers on its days above zero (every one up to 31 days, then about 20 and the peak).

    One day draws markers without lines; no series (or no days) draws the axes and `empty_text`.
    Raises ValueError for more than MAX_SERIES series, a series of the wrong length or an unusable chart_id."""
    if len(series) > MAX_SERIES:
        raise ValueError(f"at most {MAX_SERIES} series (fold the rest with fold_series)")
    if any(len(s.values) != len(days) for s in series):
        raise ValueError("every series needs one value per day")
    left, right, top, bottom = 64, 20, 16, 44
    legend_rows = _legend_rows([s.label for s in series], left, width - left - right)
    total_height = height + 24 * len(legend_rows)
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    shown = bool(series) and bool(days)
    ticks = nice_ticks(max((v for s in series for v in s.values), default=0), integer)
    y_top = ticks[-1]

    def x_at(i: int) -> float:
        return left + plot_w / 2 if len(days) == 1 else left + plot_w * i / (len(days) - 1)

    def y_at(value: float) -> float:
        return base - plot_h * value / y_top

    body: list[str] = []
    for tick in ticks:
        y = y_at(tick)
        body.append(_element("line", x1=left, x2=left + plot_w, y1=_num(y), y2=_num(y), stroke=GRID))
        body.append(_text(left - 8, y + 4, format_number(tick), anchor="end"))
    body.append(_element("path", d=f"M{left},{top} V{base} H{left + plot_w}", stroke=MUTED, fill="none"))
    body.append(_text(14, top + plot_h / 2, y_label, anchor="middle", transform=f"rotate(-90 14 {_num(top + plot_h / 2)})"))
    if days:
        with_year = days[0].year != days[-1].year
        for i in _x_tick_indices(len(days), 5 if with_year else 8):
            x = x_at(i)
            body.append(_element("line", x1=_num(x), x2=_num(x), y1=base, y2=base + 5, stroke=MUTED))
            body.append(_text(x, base + 20, day_label(days[i], with_year), anchor="middle"))
    if not shown:
        body.append(_empty(left + plot_w / 2, top + plot_h / 2, empty_text))
    step = 1 if len(days) <= 31 else math.ceil(len(days) / 20)
    for n, (line, style) in enumerate(zip(series, STYLES, strict=False)):
        points = [(x_at(i), y_at(v)) for i, v in enumerate(line.values)]
        if len(points) > 1:
            d = "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in points)
            body.append(
                _element(
                    "path",
                    d=d,
                    fill="none",
                    stroke=style.colour,
                    stroke_width=2.5,
                    stroke_dasharray=style.dash,
                    stroke_linejoin="round",
                )
            )
        # Markers on the days with something to show (all of them on a lone day), thinned on long ranges and
        # there shifted per series so that they fall on different days; on the zero line they would only pile up.
        offset = (n * step) // max(len(series), 1)
        marks = [
            points[i]
            for i, value in enumerate(line.values)
            if len(points) == 1 or (value and (i % step == offset % step or value == max(line.values)))
        ]
        body.extend(_marker(style.marker, x, y, style.colour) for x, y in marks)
    for row_number, row in enumerate(legend_rows):
        y = height + 24 * row_number + 4
        for index, x in row:
            style = STYLES[index]
            body.append(
                _element("line", x1=x, x2=x + 30, y1=y, y2=y, stroke=style.colour, stroke_width=2.5, stroke_dasharray=style.dash)
            )
            body.append(_marker(style.marker, x + 15, y, style.colour))
            body.append(_text(x + 38, y + 4, short_label(series[index].label), fill=INK, size=13))
    return _svg(chart_id, width, total_height, title, _line_desc(days, series, empty_text), body)


def _legend_rows(labels: Sequence[str], left: float, room: float) -> list[list[tuple[int, float]]]:
    """Where each legend entry starts: (series index, x), wrapped into rows that fit `room`."""
    rows: list[list[tuple[int, float]]] = []
    x = room + 1.0
    for index, label in enumerate(labels):
        size = 38 + 7.5 * len(short_label(label)) + 24
        if x + size > room and (not rows or rows[-1]):
            rows.append([])
            x = 0.0
        rows[-1].append((index, left + x))
        x += size
    return rows


def _x_tick_indices(count: int, most: int) -> list[int]:
    """Days to label: the first, then every k-th, so at most `most` labels; the last only if it does not crowd."""
    if count <= most:
        return list(range(count))
    step = math.ceil((count - 1) / (most - 1))
    return list(range(0, count, step))


def _line_desc(days: Sequence[date], series: Sequence[Series], empty_text: str) -> str:
    if not days:
        return empty_text
    span = days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} to {days[-1].isoformat()}"
    if not series:
        return f"{span}: {empty_text}"
    parts = []
    for line in series:
        peak = max(range(len(line.values)), key=lambda i: line.values[i])
        parts.append(
            f"{line.label}: {format_number(line.total)} in all, at most {format_number(line.values[peak])} "
            f"(on {days[peak].isoformat()})"
        )
    return f"{len(days)} day{'s' if len(days) != 1 else ''}, {span}. " + "; ".join(parts) + "."


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    value_label: str,
    empty_text: str = "Nothing in these dates.",
    integer: bool = True,
    width: int = 720,
) -> Markup:
    """Horizontal bars in the order given, each labelled with its name and value; an x axis from 0 with ticks.
    No bars draws the axis and `empty_text`. Raises ValueError for an unusable chart_id."""
    label_w, right, top, row = 250, 60, 10, 30
    plot_w = width - label_w - right
    rows_h = row * max(len(bars), 1)
    base = top + rows_h
    height = base + 48
    ticks = nice_ticks(max((b.value for b in bars), default=0), integer)
    x_top = ticks[-1]

    def x_at(value: float) -> float:
        return label_w + plot_w * value / x_top

    body: list[str] = []
    for tick in ticks:
        x = x_at(tick)
        body.append(_element("line", x1=_num(x), x2=_num(x), y1=top, y2=base, stroke=GRID))
        body.append(_text(x, base + 18, format_number(tick), anchor="middle"))
    for i, bar in enumerate(bars):
        y = top + row * i
        body.append(_text(label_w - 8, y + row / 2 + 4.5, short_label(bar.label), anchor="end", fill=INK, size=13))
        length = x_at(bar.value) - label_w
        body.append(_element("rect", x=label_w, y=_num(y + 5), width=_num(max(length, 0)), height=row - 10, fill=BAR))
        body.append(_text(label_w + length + 6, y + row / 2 + 4.5, format_number(bar.value), fill=INK, size=13))
    body.append(_element("path", d=f"M{label_w},{top} V{base} H{label_w + plot_w}", stroke=MUTED, fill="none"))
    body.append(_text(label_w + plot_w / 2, base + 40, value_label, anchor="middle"))
    if not bars:
        body.append(_empty(label_w + plot_w / 2, top + rows_h / 2 + 5, empty_text))
    desc = "; ".join(f"{bar.label}: {format_number(bar.value)}" for bar in bars) + "." if bars else empty_text
    return _svg(chart_id, width, height, title, f"{value_label}. {desc}", body)
