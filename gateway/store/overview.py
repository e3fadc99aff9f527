"""The console's overview: what the decision log and the review queue say about the last
day, in a few aggregate queries.

Every decisions query is bounded by a decided_at range, so Postgres prunes the log's
partitions to the last day's and reads the (decided_at DESC, id DESC) index: the page
costs the same on ten years of log as on one day. The review queue's figures read the
pending and forwarding holds through the (state, held_at) index.

A call the gateway could not decide is mostly never recorded (no decision could be made or
written: gateway_fail_closed counts those); the ones that are recorded are denials whose
every reason is a could-not-decide reason (a price or an AML fact missing), answered 503.
They are counted apart from refusals, as the edge answers them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from policy.decision import Outcome

WINDOW_HOURS = 24  # the overview covers the last day, hour by hour
BUCKET = timedelta(hours=1)
TOP_REASONS = 10  # refusal reasons shown; the rest are summed as "other"
OUTCOMES = tuple(outcome.value for outcome in Outcome)


@dataclass(frozen=True)
class HourCounts:
    start: datetime  # the hour's first instant (UTC)
    counts: dict[str, int]  # outcome -> decisions; every outcome present, 0 when none


@dataclass(frozen=True)
class ReviewQueue:
    pending: int
    forwarding: int  # approved, the exchange's answer not recorded yet
    oldest_pending: datetime | None  # when the oldest pending hold was held
    # Pending under four eyes with one officer's approval: waiting for a different officer.
    second_officer: int = 0


@dataclass(frozen=True)
class Overview:
    since: datetime
    until: datetime
    hours: list[HourCounts]  # oldest first, one per hour of the window
    refusal_reasons: list[tuple[str, int]]  # most frequent first
    other_refusals: int  # refusals counted under reasons beyond TOP_REASONS
    fail_closed: list[tuple[str, int]]  # recorded could-not-decide denials by reason
    queue: ReviewQueue


def window(now: datetime) -> tuple[datetime, datetime]:
    """The last WINDOW_HOURS whole and current hours: from the start of the hour 23 hours
    before now's to now, so every bar is a clock hour."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return hour - BUCKET * (WINDOW_HOURS - 1), now


# The decision log's queries, each over [$1, $2): the window prunes the partitions.
# date_bin from the window's start: clock hours whatever the session's time zone.
OUTCOMES_BY_HOUR = """
    SELECT date_bin('1 hour', d.decided_at, $1) AS hour, d.outcome, count(*) AS n
      FROM decisions d
     WHERE d.decided_at >= $1 AND d.decided_at < $2
     GROUP BY 1, 2"""
# Each refused decision counts once under each reason it was refused for; a could-not-
# decide reason ($3) is not a refusal (the caller was told to try again).
REFUSALS_BY_REASON = """
    SELECT reason, count(*) AS n
      FROM decisions d, unnest(d.reasons) AS reason
     WHERE d.decided_at >= $1 AND d.decided_at < $2 AND d.outcome = 'deny'
       AND reason <> ALL($3::text[])
     GROUP BY reason ORDER BY n DESC, reason"""
# Verdict.cannot_decide: denied, and every reason it was denied for is undecidable ($3).
COULD_NOT_DECIDE_BY_REASON = """
    SELECT reason, count(*) AS n
      FROM decisions d, unnest(d.reasons) AS reason
     WHERE d.decided_at >= $1 AND d.decided_at < $2 AND d.outcome = 'deny'
       AND cardinality(d.reasons) > 0 AND d.reasons <@ $3::text[]
     GROUP BY reason ORDER BY n DESC, reason"""


async def read_overview(conn: asyncpg.Connection, now: datetime, could_not_decide: Sequence[str]) -> Overview:
    """The overview at `now` (timezone-aware). `could_not_decide`: the reason codes of the
    could-not-decide answers (gateway.metrics.FAIL_CLOSED_REASONS)."""
    since, until = window(now)
    fail_reasons = list(could_not_decide)
    rows = await conn.fetch(OUTCOMES_BY_HOUR, since, until)
    found = {(row["hour"], row["outcome"]): int(row["n"]) for row in rows}
    starts = [since + BUCKET * i for i in range(WINDOW_HOURS)]
    hours = [HourCounts(start, {o: found.get((start, o), 0) for o in OUTCOMES}) for start in starts]
    reasons = await conn.fetch(REFUSALS_BY_REASON, since, until, fail_reasons)
    failed = await conn.fetch(COULD_NOT_DECIDE_BY_REASON, since, until, fail_reasons)
    counted = [(row["reason"], int(row["n"])) for row in reasons]
    return Overview(
        since=since,
        until=until,
        hours=hours,
        refusal_reasons=counted[:TOP_REASONS],
        other_refusals=sum(n for _, n in counted[TOP_REASONS:]),
        fail_closed=[(row["reason"], int(row["n"])) for row in failed],
        queue=await review_queue(conn),
    )


async def review_queue(conn: asyncpg.Connection) -> ReviewQueue:
    row = await conn.fetchrow(
        # The approvals are looked up by their key (hold_id, actor), for pending holds only.
        """SELECT count(*) FILTER (WHERE h.state = 'pending') AS pending,
                  count(*) FILTER (WHERE h.state = 'forwarding') AS forwarding,
                  min(h.held_at) FILTER (WHERE h.state = 'pending') AS oldest,
                  count(*) FILTER (WHERE h.state = 'pending' AND h.approvals_required > 1
                                     AND EXISTS (SELECT 1 FROM hold_approvals a WHERE a.hold_id = h.id))
                      AS second_officer
             FROM held_calls h WHERE h.state IN ('pending', 'forwarding')"""
    )
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return ReviewQueue(int(row["pending"]), int(row["forwarding"]), row["oldest"], int(row["second_officer"]))
