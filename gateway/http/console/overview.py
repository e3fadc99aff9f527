"""Console: the overview, /console/. The last day of decisions by outcome and hour, the
refusal reasons, the review queue and the calls the gateway could not decide, as charts
drawn on the server (charts.py) with their numbers in tables beside them.

Counts only, no personal data. Each part follows the admin API's permission for what it
counts (decisions: READ_DECISIONS, holds: READ_HOLDS); a role with neither (an operator)
is sent to the first page it may see. Read through the audit read pool, like the
decision search: the overview is a long read that needs no write it just made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup
from prometheus_client.parser import text_string_to_metric_families

from gateway import appkeys as K
from gateway.http.console import charts
from gateway.http.console.render import home_for, iso_utc, render
from gateway.http.console.session import console_user
from gateway.metrics import FAIL_CLOSED_REASONS, GatewayMetrics
from gateway.roles import Permission
from gateway.store import overview as store

routes = web.RouteTableDef()

SEARCH_PATH: Final = "/console/decisions"
# Outcome colours: green lets through, blue lets through and reports, amber waits, red
# refuses. The legend and the tables name each, so colour is never the only cue.
OUTCOME_COLOURS: Final = {
    "allow": "#2e7d32", "allow_and_report": "#1565c0", "hold": "#ef6c00", "deny": "#c62828",
}  # fmt: skip
REFUSAL_COLOUR: Final = "#c62828"
HOUR_LABEL_EVERY: Final = 3  # 24 hour labels would crowd; every third is legible
FAIL_CLOSED_METRIC: Final = "gateway_fail_closed"


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    count: int
    search: str  # the decision search for these refusals, as a shareable URL


def search_url(since: datetime, until: datetime, **filters: str) -> str:
    return SEARCH_PATH + "?" + urlencode({**filters, "since": iso_utc(since), "until": iso_utc(until)})


def fail_closed_since_start(metrics: GatewayMetrics) -> list[tuple[str, int]]:
    """gateway_fail_closed by reason, non-zero, most first: the could-not-decide answers
    nothing was recorded for, counted by this gateway (every worker of a group) since it
    started. Read from the exposition, so a group's workers are summed as /metrics sums them."""
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name != FAIL_CLOSED_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.value > 0:
                reason = sample.labels.get("reason", "")
                counts[reason] = counts.get(reason, 0) + int(sample.value)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def outcome_chart(view: store.Overview) -> Markup:
    labels = [hour.start.astimezone(UTC).strftime("%H:%M") for hour in view.hours]
    series = [
        charts.Series(outcome, OUTCOME_COLOURS[outcome], [hour.counts[outcome] for hour in view.hours])
        for outcome in store.OUTCOMES
    ]
    svg = charts.stacked_bars(
        "outcomes-chart", "Decisions per hour by outcome",
        f"Decisions recorded in each hour (UTC) from {iso_utc(view.since)} to {iso_utc(view.until)}, "
        "stacked by outcome: allow, allow_and_report, hold, deny.",
        labels, series, label_every=HOUR_LABEL_EVERY, empty="No decisions in the last 24 hours",
    )  # fmt: skip
    return Markup(f"<div>{charts.legend(series)}</div>{svg}")  # charts.py escapes every label


def refusal_chart(view: store.Overview) -> Markup:
    bars = list(view.refusal_reasons)
    if view.other_refusals:
        bars.append(("other reasons", view.other_refusals))
    svg = charts.horizontal_bars(
        "refusals-chart", "Top refusal reasons",
        f"Refused decisions by reason from {iso_utc(view.since)} to {iso_utc(view.until)}, "
        "most frequent first.",
        bars, REFUSAL_COLOUR, empty="No refusals in the last 24 hours",
    )  # fmt: skip
    return Markup(svg)  # charts.py escapes every label


@routes.get("/console/")
async def overview(request: web.Request) -> web.Response:
    user = await console_user(request)
    sees_decisions, sees_holds = user.can(Permission.READ_DECISIONS), user.can(Permission.READ_HOLDS)
    if not (sees_decisions or sees_holds):
        # Nothing here is theirs to count (an operator): their own first page instead.
        raise web.HTTPSeeOther(home_for(user))
    now = datetime.now(UTC)
    async with request.app[K.AUDIT_READS].acquire() as conn:  # the read replica, if any
        view = await store.read_overview(conn, now, FAIL_CLOSED_REASONS)
    reasons = [
        ReasonRow(reason, count, search_url(view.since, view.until, outcome="deny", reason=reason))
        for reason, count in view.refusal_reasons
    ]
    return render(
        request, "overview.html", user,
        view=view,
        sees_decisions=sees_decisions,
        sees_holds=sees_holds,
        outcomes=store.OUTCOMES,
        outcome_chart=outcome_chart(view) if sees_decisions else None,
        refusal_chart=refusal_chart(view) if sees_decisions else None,
        reasons=reasons,
        denied_search=search_url(view.since, view.until, outcome="deny"),
        fail_closed_since_start=fail_closed_since_start(request.app[K.METRICS]),
        now=now,
    )  # fmt: skip
