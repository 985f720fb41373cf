"""The insights page's SVG charts (prefs/insights_charts.py): well-formed, accessible, to scale, escaped, and
sensible with no data or a single day. Pure functions: no app, no database."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest

from prefs import insights_charts
from prefs.insights_charts import (
    INK,
    MAX_SERIES,
    MUTED,
    STYLES,
    WHITE,
    Bar,
    Series,
    bar_chart,
    fold_series,
    format_number,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quotes\""


def days_from(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def parse(markup) -> ET.Element:
    """The chart as XML: it must be well-formed, whatever its labels held."""
    return ET.fromstring(str(markup))  # noqa: S314  (our own output, parsed to check it is well-formed)


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def series_paths(root: ET.Element) -> list[ET.Element]:
    """The lines of a line chart (a legend's samples are <line>s, axes are not round-joined)."""
    return [p for p in root.iter(SVG + "path") if p.get("stroke-linejoin") == "round"]


def points(path: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path.get("d", ""))]


def luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_a_line_chart_is_an_image_named_and_described_with_a_line_and_legend_entry_per_series():
    days = days_from(date(2025, 3, 1), 30)
    email = Series("Email", tuple(i % 4 for i in range(30)))
    sms = Series("Text message", tuple(float(i == 3) * 5 for i in range(30)))
    root = parse(line_chart("by-channel", "Opt-outs by channel", days, [email, sms], y_label="Opt-outs per day"))

    assert root.tag == SVG + "svg" and root.get("role") == "img"
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == title.get("id") == "by-channel-title"
    assert root.get("aria-describedby") == desc.get("id") == "by-channel-desc"
    assert title.text == "Opt-outs by channel"
    assert desc.text is not None
    assert "2025-03-01 to 2025-03-30" in desc.text
    assert f"Email: {sum(email.values)} in all" in desc.text
    assert "Text message: 5 in all, at most 5 (on 2025-03-04)" in desc.text

    lines = series_paths(root)
    assert [line.get("stroke") for line in lines] == [STYLES[0].colour, STYLES[1].colour]
    assert lines[0].get("stroke-dasharray") is None and lines[1].get("stroke-dasharray") == STYLES[1].dash
    assert all(len(points(line)) == 30 for line in lines)
    labels = texts(root)
    assert "Email" in labels and "Text message" in labels and "Opt-outs per day" in labels
    assert "1 Mar" in labels and "30 Mar" not in labels  # at most 8 day labels, from the first
    assert 2 <= sum(label in labels for label in (day.strftime("%-d %b") for day in days)) <= 8


def test_values_are_drawn_to_scale_from_zero_with_round_ticks():
    days = days_from(date(2025, 1, 1), 3)
    root = parse(line_chart("scale", "Scale", days, [Series("A", (0, 7, 3.5))], y_label="Count"))
    (first, middle, last) = points(series_paths(root)[0])
    assert [text for text in texts(root) if text.isdigit()][:5] == ["0", "2", "4", "6", "8"]  # ticks up to 8 for 7
    base = first[1]
    top = base - (base - middle[1]) * 8 / 7  # where 8, the top tick, is
    assert abs((base - last[1]) - (base - top) * 3.5 / 8) < 0.2
    assert first[0] < middle[0] < last[0] and abs((middle[0] - first[0]) - (last[0] - middle[0])) < 0.2

    bars = parse(bar_chart("bars", "Bars", [Bar("big", 12), Bar("small", 3), Bar("none", 0)], value_label="Unsubscribes"))
    widths = [float(rect.get("width", "")) for rect in bars.iter(SVG + "rect")]
    assert len(widths) == 3 and widths[2] == 0
    assert abs(widths[0] / widths[1] - 4) < 0.01
    wanted = ["big", "12", "small", "3", "none", "0"]  # each bar's name, then its value (after the axis' ticks)
    assert [t for t in texts(bars) if t in wanted][-6:] == wanted


@pytest.mark.parametrize(
    ("largest", "integer", "ticks"),
    [
        (0, True, [0, 1]),
        (1, True, [0, 1]),
        (3, True, [0, 1, 2, 3]),
        (7, True, [0, 2, 4, 6, 8]),
        (10, True, [0, 2, 4, 6, 8, 10]),
        (1234, True, [0, 500, 1000, 1500]),
        (0.37, False, [0, 0.1, 0.2, 0.3, 0.4]),
        (12.5, False, [0, 2.5, 5, 7.5, 10, 12.5]),
    ],
)
def test_nice_ticks(largest, integer, ticks):
    assert nice_ticks(largest, integer) == ticks


def test_ticks_always_reach_the_largest_value_in_at_most_a_few_whole_steps():
    for largest in [*range(1, 400), 999, 1001, 10**6 + 1]:
        ticks = nice_ticks(largest)
        assert ticks[0] == 0 and ticks[-1] >= largest and 2 <= len(ticks) <= 6, (largest, ticks)
        assert all(t == int(t) for t in ticks) and len({b - a for a, b in zip(ticks, ticks[1:], strict=False)}) == 1


def test_labels_and_titles_are_escaped():
    days = days_from(date(2025, 3, 1), 2)
    charts = [
        line_chart("esc-line", HOSTILE, days, [Series(HOSTILE, (1, 2))], y_label=HOSTILE),
        bar_chart("esc-bar", HOSTILE, [Bar(HOSTILE, 4)], value_label=HOSTILE),
    ]
    for chart in charts:
        markup = str(chart)
        assert "<script" not in markup and "&lt;script&gt;" in markup
        root = parse(chart)  # well-formed: nothing broke out of an element or an attribute
        assert root.find(SVG + "title").text == HOSTILE
        assert HOSTILE in root.find(SVG + "desc").text
        assert all(not child.tag.endswith("script") for child in root.iter())
        assert any(text.startswith("<script>alert(") for text in texts(root))  # the label, as text (cut to fit)


def test_no_data_draws_the_axes_and_says_so():
    days = days_from(date(2025, 3, 1), 7)
    for chart in (
        line_chart("empty", "Nothing", days, [], y_label="Count", empty_text="No opt-outs in these dates."),
        line_chart("no-days", "Nothing", [], [], y_label="Count", empty_text="No opt-outs in these dates."),
        bar_chart("empty-bars", "Nothing", [], value_label="Count", empty_text="No opt-outs in these dates."),
    ):
        root = parse(chart)
        assert "No opt-outs in these dates." in texts(root)
        assert "No opt-outs in these dates." in (root.find(SVG + "desc").text or "")
        assert series_paths(root) == [] and list(root.iter(SVG + "rect")) == []
        assert "0" in texts(root)  # the axis is there
    assert "No opt-outs" not in " ".join(texts(parse(line_chart("zero", "Z", days, [Series("A", (0,) * 7)], y_label="y"))))


def test_a_single_day_is_drawn_as_markers_in_the_middle():
    root = parse(line_chart("one-day", "One day", [date(2025, 3, 9)], [Series("A", (4,)), Series("B", (1,))], y_label="y"))
    assert series_paths(root) == []  # no line through one point
    circles = [c for c in root.iter(SVG + "circle") if c.get("fill") == STYLES[0].colour]
    squares = [r for r in root.iter(SVG + "rect") if r.get("fill") == STYLES[1].colour]
    assert len(circles) == 2 and len(squares) == 2  # each: the day's marker and the legend's sample
    width = float(root.get("width", ""))
    assert 0.4 * width < float(circles[0].get("cx", "")) < 0.6 * width
    assert "9 Mar" in texts(root) and "1 day, 2025-03-09." in (root.find(SVG + "desc").text or "")


def test_a_range_over_new_year_labels_days_with_their_year():
    root = parse(line_chart("years", "Years", days_from(date(2024, 12, 20), 20), [Series("A", (1,) * 20)], y_label="y"))
    assert "2024-12-20" in texts(root) and "20 Dec" not in texts(root)


def test_series_differ_in_colour_dash_and_marker_and_every_colour_is_readable_on_white():
    assert len({s.colour for s in STYLES}) == len({s.dash for s in STYLES}) == len({s.marker for s in STYLES}) == MAX_SERIES
    for style in STYLES:
        assert contrast(style.colour, WHITE) >= 3, style  # WCAG 1.4.11: graphical objects
    for text_colour in (INK, MUTED):
        assert contrast(text_colour, WHITE) >= 4.5  # WCAG 1.4.3: text


def test_every_series_gets_its_own_marker_shape_on_the_chart():
    days = days_from(date(2025, 3, 1), 3)
    series = [Series(f"S{i}", (i, i, i)) for i in range(MAX_SERIES)]
    markup = str(line_chart("all", "All", days, series, y_label="y"))
    root = parse(markup)
    assert len(series_paths(root)) == MAX_SERIES
    assert {p.get("stroke") for p in series_paths(root)} == {s.colour for s in STYLES}
    assert [f"S{i}" for i in range(MAX_SERIES)] == [t for t in texts(root) if t.startswith("S")]


def test_fold_series_keeps_the_largest_and_sums_the_rest():
    series = [Series(f"t{i}", (i, 2 * i)) for i in range(10)]
    folded = fold_series(series, "Other topics")
    assert len(folded) == MAX_SERIES
    assert [s.label for s in folded[:-1]] == ["t9", "t8", "t7", "t6", "t5", "t4", "t3"]
    assert folded[-1] == Series("Other topics", (0 + 1 + 2, 0 + 2 + 4))
    assert fold_series(series[:MAX_SERIES], "Other") == series[:MAX_SERIES]


def test_refusals():
    days = days_from(date(2025, 3, 1), 2)
    with pytest.raises(ValueError, match="series"):
        line_chart("many", "t", days, [Series(str(i), (1, 1)) for i in range(MAX_SERIES + 1)], y_label="y")
    with pytest.raises(ValueError, match="one value per day"):
        line_chart("short", "t", days, [Series("A", (1,))], y_label="y")
    with pytest.raises(ValueError, match="id"):
        bar_chart('x" onload="alert(1)', "t", [], value_label="v")


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (1234, "1,234"), (2.0, "2"), (0.5, "0.5"), (2.345, "2.35"), (1500.25, "1,500.25")]
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_the_chart_module_is_pure():
    """No Flask, no database: the charts are drawn from numbers alone (docs/architecture.md's pure modules)."""
    tree = ast.parse(Path(insights_charts.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "re", "html", "collections.abc", "dataclasses", "datetime", "markupsafe"}, imported
