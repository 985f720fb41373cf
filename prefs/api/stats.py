"""GET /stats: the insights (issue 19) — opt-outs, opt-ins, suppressions, bounces and complaints counted by
day, topic, channel, via and campaign, from the roll-ups the worker keeps (services/insights.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import PrefsError
from ..services import insights
from . import examples
from .auth import authorized
from .blueprint import blp, refuses
from .reference import Refusal
from .schemas import StatsQuerySchema, StatsSchema

INVALID_RANGE = Refusal(
    "invalid_range",
    f"`to` is before `from`, or the range covers more than {insights.MAX_RANGE_DAYS} days; nothing is counted.",
    "The range starts after it ends.",
    {"to": ["The range starts after it ends."]},
)
INVALID_GROUP_BY = Refusal(
    "invalid_group_by",
    f"`group_by` names something other than {', '.join(insights.GROUPS)}, or one of them twice.",
    f"group_by takes one or more of {', '.join(insights.GROUPS)}, each once.",
    {"group_by": [f"group_by takes one or more of {', '.join(insights.GROUPS)}, each once."]},
)


@blp.route("/stats", methods=["GET"], tags=["Insights"])
@authorized("read")
@refuses(invalid_range=INVALID_RANGE, invalid_group_by=INVALID_GROUP_BY)
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(
    200,
    StatsSchema,
    description="The counts, one row per group with any, and the totals.",
    examples={
        "campaigns": {"summary": "Which campaigns people left from (group_by=message_id)", "value": examples.STATS},
        "trend": {"summary": "Opt-outs by day and channel (group_by=day,channel)", "value": examples.STATS_BY_DAY_AND_CHANNEL},
    },
)
def get_stats(query):
    """Count opt-outs, opt-ins and more

    Which campaign made people unsubscribe, and how opt-outs trend by topic and channel. Every change of
    consent is counted on its day (UTC) under its topic, channel, `via` (how it was made: `one_click`,
    `confirm_page`, `preference_center`, `console`, `api`, `keyword:STOP`, `complaint:sendgrid`, …) and
    `message_id` (the campaign the link came from). An opt-out withdraws marketing permission (a topic or
    channel turned off, a stop of all marketing, an SMS STOP, a complaint's stop), an opt-in gives it (a
    confirmed double opt-in counts once). Beside them: addresses added to the suppression list (by source,
    as `via`), and the hard bounces and spam complaints mail providers reported. `top campaigns` is
    `group_by=message_id&order_by=opt_outs&limit=10`. Counts are kept by the service's worker and trail the
    changes by a few seconds.
    """
    today = datetime.now(UTC).date()
    group_by = query["group_by"].split(",")
    try:
        start, end = insights.question_range(query.get("start"), query.get("end"), today)
        # One row past the limit says whether any were left off, without counting them all.
        rows = insights.stats(start, end, group_by, order_by=query.get("order_by"), limit=query["limit"] + 1)
    except insights.InvalidGroupBy as refused:
        raise PrefsError("invalid_group_by", str(refused), {"group_by": [str(refused)]}) from None
    except insights.InvalidRange as refused:
        raise PrefsError("invalid_range", str(refused), {refused.field: [str(refused)]}) from None
    return {
        "start": start,
        "end": end,
        "group_by": group_by,
        "rows": [{"key": row.key, **row.measures()} for row in rows[: query["limit"]]],
        "truncated": len(rows) > query["limit"],
        "totals": insights.totals(start, end),
        "active_recipients": insights.active_recipients(),
    }
