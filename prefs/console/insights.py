"""The insights page (`/console/insights`, viewer and up): opt-outs per day by channel and by topic, who may get
marketing on each channel now, the campaigns people leave from, the ways they leave, bounces, complaints and
suppressions added; each chart with a table of the same numbers and a CSV download (`/console/insights.csv`).

The counts and what counts as what are services/insights.py's (its roll-ups); the drawing is insights_charts'.
This module only reads the range asked for and lays the numbers out in words for staff.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, render_template, request, url_for
from markupsafe import Markup

from ..channels import CHANNEL_WORDS, CHANNELS
from ..insights_charts import Bar, Series, bar_chart, fold_series, format_number, line_chart
from ..runtime import runtime
from ..services import insights
from ..services.insights import StatsRow
from . import bp, console_time, error_page
from .auth import requires
from .wording import SUPPRESSION_SOURCE_WORDS, via_words

QUICK_RANGES = (7, 30, 90)
TOP_CAMPAIGNS = 10
CSV_ROWS = 100_000  # a CSV by campaign holds at most this many, the most unsubscribes first
# A cell a spreadsheet would run as a formula (CSV injection, OWASP) gets a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

NO_CHANNEL = "Every channel at once"  # an all-marketing stop or start
NO_TOPIC = "Every topic at once"  # a stop or start of a channel or of all marketing
OTHER_TOPICS = "Other topics"
NO_VIA = "not recorded"


class InsightsInputError(ValueError):
    """A range or grouping staff can fix: its message is shown on the page."""


# --- what was asked for -----------------------------------------------------------------------------------
def today() -> date:
    return datetime.now(UTC).date()


def parse_day(raw: str, which: str) -> date:
    """A YYYY-MM-DD day; raises InsightsInputError in words."""
    day = insights.day_asked(raw)
    if day is None:
        raise InsightsInputError(f"The {which} date “{raw[:40]}” is not a date: write it as YYYY-MM-DD, e.g. 2025-03-01.")
    return day


def parse_range(args: Mapping[str, str], now: date) -> tuple[date, date]:
    """`from` and `to` (both included, UTC days); what a missing one means and which ranges are answered are
    services/insights.py's rules (the API's too). Raises InsightsInputError for a date that is not one, or a
    range it does not answer."""
    raw_from, raw_to = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    start = parse_day(raw_from, "start") if raw_from else None
    end = parse_day(raw_to, "end") if raw_to else None
    try:
        start, end = insights.question_range(start, end, now)
        insights.check_question(start, end, ("day",), None, None)
    except insights.InvalidRange as error:
        raise InsightsInputError(f"{error} Choose other dates.") from error
    return start, end


def parse_group_by(raw: str, start: date, end: date) -> tuple[str, ...]:
    """Comma-separated groups (e.g. `day,channel`) as services/insights.py takes them; raises InsightsInputError."""
    groups = tuple(part.strip() for part in raw.split(",")) if raw.strip() else ()
    try:
        insights.check_question(start, end, groups, None, None)
    except insights.InvalidGroupBy as error:
        raise InsightsInputError(str(error)) from error
    return groups


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- words -----------------------------------------------------------------------------------------------
def channel_label(key: str | None) -> str:
    return NO_CHANNEL if key is None else CHANNEL_WORDS.get(key, key).capitalize()


def topic_labeller(names: Mapping[str, str]) -> Callable[[str | None], str]:
    return lambda key: NO_TOPIC if key is None else names.get(key, key)


def sentence_case(words: str) -> str:
    """The first letter capitalised, the rest kept (unlike str.capitalize: "Mailgun", "STOP")."""
    return words[:1].upper() + words[1:]


def via_label(key: str | None) -> str:
    return NO_VIA if key is None else sentence_case(via_words(key))


def source_label(key: str | None) -> str:
    """Where a suppression, a bounce or a complaint came from: the home page's words for a suppression source."""
    if key is None:
        return NO_VIA
    return sentence_case(SUPPRESSION_SOURCE_WORDS.get(key) or via_words(key))


# --- the page's model ------------------------------------------------------------------------------------
@dataclass
class Table:
    caption: str
    columns: list[str]  # the first names the rows' headers
    rows: list[tuple[str, list[str]]]  # (row header, cells)

    def labelled_rows(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Each row's cells with their column's name (data-label: a phone shows the table as cards)."""
        return [(header, list(zip(self.columns[1:], cells, strict=True))) for header, cells in self.rows]


@dataclass
class Chart:
    id: str
    heading: str
    svg: Markup
    table: Table
    csv_url: str
    notes: list[str] = field(default_factory=list)


def per_day(
    rows: Iterable[StatsRow], group: str, measure: str, days: Sequence[date], keys: Iterable[str | None] = ()
) -> dict[str | None, list[int]]:
    """group key -> the measure on each day (0 where no row), for the keys given and every key in the rows."""
    index = {day.isoformat(): i for i, day in enumerate(days)}
    values: dict[str | None, list[int]] = {key: [0] * len(days) for key in keys}
    for row in rows:
        line = values.setdefault(row.key[group], [0] * len(days))
        line[index[str(row.key["day"])]] += getattr(row, measure)
    return values


def day_table(caption: str, days: Sequence[date], columns: Sequence[tuple[str, Sequence[float]]]) -> Table:
    """A row per day, a column per series and their total."""
    rows = [
        (day.isoformat(), [format_number(values[i]) for _, values in columns] + [format_number(sum(v[i] for _, v in columns))])
        for i, day in enumerate(days)
    ]
    totals = [format_number(sum(values)) for _, values in columns]
    rows.append(("All these days", totals + [format_number(sum(sum(values) for _, values in columns))]))
    return Table(caption, ["Day (UTC)", *(label for label, _ in columns), "Total"], rows)


def by_day_chart(
    chart_id: str,
    heading: str,
    days: Sequence[date],
    lines: Mapping[str | None, Sequence[int]],
    label: Callable[[str | None], str],
    csv_url: str,
    *,
    y_label: str,
    empty_text: str,
    other_label: str,
) -> Chart:
    """A line per key of `lines`, in its order (the biggest MAX_SERIES - 1 drawn, the rest as `other_label`),
    and a table with every key."""
    named = [(label(key), list(values)) for key, values in lines.items()]
    series = fold_series([Series(name, tuple(values)) for name, values in named], other_label)
    svg = line_chart(chart_id, heading, days, series, y_label=y_label, empty_text=empty_text)
    table = day_table(f"{heading}, {days[0].isoformat()} to {days[-1].isoformat()}: a row per day.", days, named)
    return Chart(chart_id, heading, svg, table, csv_url)


def dashboard(start: date, end: date, topic_names: Mapping[str, str], csv_url: Callable[[str], str]) -> list[Chart]:
    """Every chart of the page, in order, each with its table and its CSV link."""
    days = days_between(start, end)
    topic_label = topic_labeller(topic_names)
    span = f"{start.isoformat()} to {end.isoformat()}"
    empty = "No opt-outs in these dates."
    charts: list[Chart] = []

    # Opt-outs per day by channel: every channel has a line, even one with none, in the registry's order.
    by_channel = per_day(insights.stats(start, end, ("day", "channel")), "channel", "opt_outs", days, CHANNELS)
    charts.append(
        by_day_chart(
            "opt-outs-by-channel",
            "Opt-outs per day, by channel",
            days,
            by_channel,
            channel_label,
            csv_url("day,channel"),
            y_label="Opt-outs per day",
            empty_text=empty,
            other_label="Other channels",
        )
    )

    # The opt-out rate per day by channel: opt-outs per 1,000 who may get marketing on it (services/insights.py).
    rates = insights.opt_out_rates(start, end)
    rate_series = [Series(channel_label(key), tuple(value or 0.0 for value in values)) for key, values in rates.items()]
    charts.append(
        Chart(
            "opt-out-rate-by-channel",
            "Opt-out rate per day, by channel",
            line_chart(
                "opt-out-rate-by-channel",
                "Opt-outs per 1,000 who may get marketing, per day, by channel",
                days,
                rate_series,
                y_label="Opt-outs per 1,000",
                empty_text=empty,
                integer=False,
            ),
            Table(
                f"Opt-outs per 1,000 who may get marketing on the channel, {span}: a row per day "
                "(— before the first count of who may get marketing).",
                ["Day (UTC)", *(channel_label(key) for key in rates)],
                [(day.isoformat(), [_rate_cell(values[i]) for values in rates.values()]) for i, day in enumerate(days)],
            ),
            csv_url("day,channel"),
            [
                "A day's opt-outs on a channel (a stop of all marketing counts on each) per 1,000 people who may "
                "get marketing on it by that day's last count. Days before the first count are drawn at 0."
            ],
        )
    )

    # Who may get marketing on each channel now, with the range's opt-outs per 1,000 of them.
    active = insights.active_recipients()
    channel_rows = {row.key["channel"]: row for row in insights.stats(start, end, ("channel",))}
    channel_keys = [*CHANNELS, *sorted((k for k in [*active, *channel_rows] if k not in CHANNELS), key=str)]
    table_rows = []
    for key in dict.fromkeys(channel_keys):
        row = channel_rows.get(key)
        opt_outs, opt_ins = (row.opt_outs, row.opt_ins) if row else (0, 0)
        people = active.get(key) if key is not None else None
        table_rows.append(
            (
                channel_label(key),
                [
                    format_number(people) if people is not None else "—",
                    format_number(opt_outs),
                    format_number(opt_ins),
                    per_thousand(opt_outs, people),
                ],
            )
        )
    charts.append(
        Chart(
            "active-by-channel",
            "Who may get marketing now, by channel",
            bar_chart(
                "active-by-channel",
                "Recipients who may get marketing now, by channel",
                [Bar(channel_label(key), active.get(key, 0)) for key in CHANNELS],
                value_label="Recipients who may get marketing now",
                empty_text="Nobody may get marketing.",
            ),
            Table(
                f"Each channel: who may get marketing on it now, and the opt-outs and opt-ins of {span}.",
                ["Channel", "May get marketing now", "Opt-outs", "Opt-ins", "Opt-outs per 1,000 who may get marketing now"],
                table_rows,
            ),
            csv_url("channel"),
            [counted_words(insights.active_recipients_as_of())],
        )
    )

    # Opt-outs per day by topic: the topics anyone left, the seven biggest drawn and the rest as one line.
    by_topic = per_day(insights.stats(start, end, ("day", "topic")), "topic", "opt_outs", days)
    by_topic = dict(sorted(((k, v) for k, v in by_topic.items() if any(v)), key=lambda item: topic_label(item[0]).casefold()))
    charts.append(
        by_day_chart(
            "opt-outs-by-topic",
            "Opt-outs per day, by topic",
            days,
            by_topic,
            topic_label,
            csv_url("day,topic"),
            y_label="Opt-outs per day",
            empty_text=empty,
            other_label=OTHER_TOPICS,
        )
    )

    # Top campaigns: the message ids with the most opt-outs; opt-outs with no message id are said apart.
    ranked = insights.stats(start, end, ("message_id",), order_by="opt_outs", limit=TOP_CAMPAIGNS + 1)
    without = insights.without_message_id(start, end)["opt_outs"]
    campaigns = [row for row in ranked if row.key["message_id"] is not None and row.opt_outs > 0][:TOP_CAMPAIGNS]
    top = Chart(
        "top-campaigns",
        "Top campaigns by unsubscribes",
        bar_chart(
            "top-campaigns",
            f"The {TOP_CAMPAIGNS} campaigns (message ids) with the most opt-outs",
            [Bar(str(row.key["message_id"]), row.opt_outs) for row in campaigns],
            value_label="Opt-outs",
            empty_text="No opt-out in these dates came from a campaign's link.",
        ),
        Table(
            f"The campaigns with the most opt-outs, {span}: the message id their link carried.",
            ["Campaign (message id)", "Opt-outs", "Opt-ins", "Complaints"],
            [
                (
                    str(row.key["message_id"]),
                    [format_number(row.opt_outs), format_number(row.opt_ins), format_number(row.complaints)],
                )
                for row in campaigns
            ],
        ),
        csv_url("message_id"),
    )
    if without:
        top.notes.append(
            f"{format_number(without)} opt-outs came with no message id (a page, a text, a mail provider, the console, the API)."
        )
    charts.append(top)

    # How people leave: opt-outs by the way they came (one-click, page, text keyword, provider, console, ...).
    by_via = insights.stats(start, end, ("via",))
    leaving = sorted((row for row in by_via if row.opt_outs), key=lambda row: (-row.opt_outs, str(row.key["via"])))
    all_out = sum(row.opt_outs for row in leaving)
    charts.append(
        Chart(
            "ways-out",
            "How people leave",
            bar_chart(
                "ways-out",
                "Opt-outs by the way people left",
                [Bar(via_label(row.key["via"]), row.opt_outs) for row in leaving],
                value_label="Opt-outs",
                empty_text=empty,
            ),
            Table(
                f"Opt-outs by the way people left, {span}.",
                ["Way", "Code", "Opt-outs", "Share"],
                [
                    (
                        via_label(row.key["via"]),
                        [str(row.key["via"] or "—"), format_number(row.opt_outs), share(row.opt_outs, all_out)],
                    )
                    for row in leaving
                ],
            ),
            csv_url("via"),
        )
    )

    # Bounces, complaints and suppressions added: per day, then by source.
    daily = {str(row.key["day"]): row for row in insights.stats(start, end, ("day",))}
    measures = [("Hard bounces", "bounces"), ("Complaints", "complaints"), ("Suppressions added", "suppressions")]
    lines = [(label, [getattr(daily[d.isoformat()], m) if d.isoformat() in daily else 0 for d in days]) for label, m in measures]
    charts.append(
        Chart(
            "deliverability",
            "Bounces, complaints and suppressions per day",
            line_chart(
                "deliverability",
                "Hard bounces, complaints and suppressions added per day",
                days,
                [Series(label, tuple(values)) for label, values in lines],
                y_label="Per day",
            ),
            day_table(f"Hard bounces, complaints and suppressions added per day, {span}: a row per day.", days, lines),
            csv_url("day"),
        )
    )
    sources = sorted(
        (row for row in by_via if row.suppressions or row.bounces or row.complaints),
        key=lambda row: (-row.suppressions, -row.bounces - row.complaints, str(row.key["via"])),
    )
    charts.append(
        Chart(
            "suppressions-by-source",
            "Suppressions added, by source",
            bar_chart(
                "suppressions-by-source",
                "Suppressions added, by source",
                [Bar(source_label(row.key["via"]), row.suppressions) for row in sources if row.suppressions],
                value_label="Suppressions added",
                empty_text="No suppression was added in these dates.",
            ),
            Table(
                f"Suppressions added, hard bounces and complaints by where they came from, {span}.",
                ["Source", "Code", "Suppressions added", "Hard bounces", "Complaints"],
                [
                    (
                        source_label(row.key["via"]),
                        [
                            str(row.key["via"] or "—"),
                            format_number(row.suppressions),
                            format_number(row.bounces),
                            format_number(row.complaints),
                        ],
                    )
                    for row in sources
                ],
            ),
            csv_url("via"),
        )
    )
    return charts


def counted_words(moment: datetime | None) -> str:
    """When who may get marketing was counted (the worker counts again after changes, at most so often)."""
    if moment is None:
        return "Not counted yet: the worker counts who may get marketing soon after it starts."
    soonest, every = round(insights.ACTIVE_SOONEST_SECONDS), round(insights.ACTIVE_EVERY_SECONDS / 60)
    return (
        f"Counted {console_time(moment)}; the worker counts again after changes, {soonest} seconds to {every} minutes "
        "later as the count's cost allows."
    )


def per_thousand(count: int, people: int | None) -> str:
    return _rate_cell(insights.per_thousand(count, people))


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


# --- views -------------------------------------------------------------------------------------------------
def range_args(start: date, end: date) -> dict[str, Any]:
    """`from` and `to` as query arguments (Any: url_for's keyword arguments also hold its options)."""
    return {"from": start.isoformat(), "to": end.isoformat()}


@bp.get("/insights")
@requires("read")
def insights_page():
    now = today()
    quick = [(days, url_for("console.insights_page", **range_args(now - timedelta(days=days - 1), now))) for days in QUICK_RANGES]
    try:
        start, end = parse_range(request.args, now)
    except InsightsInputError as error:
        asked = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
        return render_template(
            "console/insights.html", error=str(error), asked=asked, quick=quick, max_days=insights.MAX_RANGE_DAYS
        ), 400
    names = {key: rule.name for key, rule in runtime().catalogue.all().items()}

    def csv_url(group_by: str) -> str:
        return url_for("console.insights_csv", group_by=group_by, **range_args(start, end))

    return render_template(
        "console/insights.html",
        max_days=insights.MAX_RANGE_DAYS,
        error=None,
        asked=range_args(start, end),
        quick=quick,
        start=start,
        end=end,
        days=(end - start).days + 1,
        totals=insights.totals(start, end),
        charts=dashboard(start, end, names, csv_url),
    )


def csv_cell(value: object) -> object:
    """A cell as written: None empty; text a spreadsheet would run as a formula prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def stats_csv(start: date, end: date, groups: tuple[str, ...]) -> str:
    """The numbers behind a chart: a row per key with every measure, as services/insights.py counts them. By
    campaign, the most opt-outs first (at most CSV_ROWS); by channel alone, every channel with who may get
    marketing on it now and the opt-outs per 1,000 of them, as the page's table."""
    by_campaign = "message_id" in groups
    rows = insights.stats(
        start, end, groups, order_by="opt_outs" if by_campaign else None, limit=CSV_ROWS if by_campaign else None
    )
    header = [*groups, *insights.MEASURES]
    if groups == ("day", "channel"):  # with each channel's opt-out rate that day, as the page's rate chart
        rates = insights.opt_out_rates(start, end)
        return csv_text(
            [*header, "opt_outs_per_1000_may_get_marketing"],
            ([*(row.key[g] for g in groups), *row.measures().values(), _rate_on(rates, row, start)] for row in rows),
        )
    if groups != ("channel",):
        return csv_text(header, ([*(row.key[g] for g in groups), *row.measures().values()] for row in rows))
    active = insights.active_recipients()
    by_channel = {row.key["channel"]: row.measures() for row in rows}
    keys = [*dict.fromkeys([*CHANNELS, *active, *by_channel])]
    lines = []
    for key in keys:
        measures = by_channel.get(key, dict.fromkeys(insights.MEASURES, 0))
        people = active.get(key) if key is not None else None
        rate = insights.per_thousand(measures["opt_outs"], people)
        lines.append([key, *measures.values(), people, rate])
    return csv_text([*header, "active_recipients", "opt_outs_per_1000_active"], lines)


def _rate_cell(rate: float | None) -> str:
    return "—" if rate is None else format_number(rate)


def _rate_on(rates: Mapping[str, Sequence[float | None]], row: StatsRow, start: date) -> float | None:
    """The channel's opt-out rate on the row's day (None for the row of every channel at once)."""
    line = rates.get(str(row.key["channel"]))
    return None if line is None else line[(date.fromisoformat(str(row.key["day"])) - start).days]


@bp.get("/insights.csv")
@requires("read")
def insights_csv():
    try:
        start, end = parse_range(request.args, today())
        groups = parse_group_by(request.args.get("group_by", "day"), start, end)
    except InsightsInputError as error:
        return error_page(400, f"{error} Nothing was downloaded.")
    name = f"insights-{'-'.join(groups).replace('_', '-')}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        stats_csv(start, end, groups),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
