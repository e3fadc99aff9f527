"""Movements the AML windows count, their running totals (hour buckets, migration 0014),
and the per-customer lock that serialises them."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from aml.facts import PastMovement
from aml.structuring import Band
from aml.windows import WINDOW_LENGTH, MovementDirection
from gateway.audit.chain import Companion, CompanionShape, arguments_of, companion_ctes, shape_of

# The longest window any rule may use: older movements can never matter.
LOOKBACK: timedelta = max(WINDOW_LENGTH.values())
# Namespace of the advisory locks (the two-int form), so they cannot meet another
# subsystem's keys; the second int is derived from the customer id.
_LOCK_SPACE = 0x414D4C  # "AML"


async def lock_customer(
    conn: asyncpg.Connection, customer_id: str, companions: Sequence[Companion] = ()
) -> None:
    """Until the transaction ends, no other replica decides a movement for this customer.
    A 32-bit hash may make two customers share a lock: they then queue, which is slow,
    never wrong. `companions`: rows written by the same statement once the lock is held (a
    withdrawal's digest, gateway/store/seen_requests.py): one round trip, and a conflict
    there refuses the statement."""
    await conn.execute(
        _lock_statement(shape_of(companions)), _LOCK_SPACE, customer_id, *arguments_of(companions)
    )


# Also, for the rest of the transaction, prepared statements run their generic plan: the
# window read's custom plan (the planner's choice for it) took 1.2 ms of Postgres CPU to
# make at every call and 0.13 ms to run; its generic plan is the same index scans.
_LOCK = """SELECT pg_advisory_xact_lock($1, hashtext($2)),
                  set_config('plan_cache_mode', 'force_generic_plan', true)"""


@functools.cache
def _lock_statement(companions: CompanionShape) -> str:
    if not companions:
        return _LOCK
    # An unreferenced data-modifying CTE runs to completion after the main query: the rows
    # are written with the lock held.
    return f"WITH {', '.join(companion_ctes(companions, 3))} {_LOCK}"


_HOUR = timedelta(hours=1)
# The hours kept one by one: a cash report's day (at most 25 h, with a clock change) and
# the 24 h window both lie in them.
_FINE = timedelta(hours=48)
# A movement counts unless refused, and of the attempts with one client order id only
# the first not refused (the rule lives in Postgres: migration 0014, movement_counted).
_COUNTED = (
    "m.id = (movement_counted(m.customer_id, m.direction,"
    " coalesce(m.client_order_id, m.decision_id::text), '{}')).id"
)
# A single movement in the columns of a bucket sum (below).
_SINGLE = 'm.occurred_at, m.direction, m.asset, NULL, NULL, m.amount, NULL, m."values"'


def _hour(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class WindowHistory:
    """What the windows compare, read in O(windows): `history` (hour buckets of the last
    48 h, one sum per older stretch of the 7 and 30 day windows, and the single movements
    of the hours a window boundary cuts), and `banded`, the movements in a structuring band."""

    history: tuple[PastMovement, ...]
    banded: tuple[PastMovement, ...]


# One statement, one snapshot: the bucket sums ('sum'), the single movements of the hours a
# window boundary cuts ('cut') and those in a structuring band ('band', one band per element
# of the arrays $7..$11; a movement in two bands comes twice).
_WINDOW_READ = f"""
SELECT 'sum' AS part, NULL::bigint AS id,
       CASE WHEN hour >= $3::timestamptz THEN hour
            WHEN hour > $5::timestamptz THEN $5::timestamptz + interval '1 hour'
            ELSE $6::timestamptz + interval '1 hour' END AS occurred_at,
       direction, asset, currency, sum(count)::bigint AS count, sum(amount) AS amount,
       sum(value) AS value, NULL::jsonb AS "values"
  FROM movement_buckets
 WHERE customer_id = $1 AND hour > $6 AND hour <> ALL ($2::timestamptz[])
 GROUP BY 3, 4, 5, 6
UNION ALL
SELECT 'cut', m.id, {_SINGLE} FROM (
    SELECT m.* FROM movements m
     WHERE m.customer_id = $1 AND m.occurred_at > $12
       AND ((m.occurred_at >= $4 AND m.occurred_at < $4::timestamptz + interval '1 hour')
            OR (m.occurred_at >= $5 AND m.occurred_at < $5::timestamptz + interval '1 hour')
            OR (m.occurred_at >= $6 AND m.occurred_at < $6::timestamptz + interval '1 hour'))
    OFFSET 0) m
 WHERE {_COUNTED}
UNION ALL
SELECT 'band', m.id, {_SINGLE} FROM (
    SELECT m.* FROM unnest($7::text[], $8::numeric[], $9::numeric[], $10::boolean[], $11::interval[])
                    AS b(currency, floor, threshold, threshold_in_band, length)
     CROSS JOIN LATERAL (
        SELECT m.* FROM movements m
         WHERE m.customer_id = $1 AND m.occurred_at > $13::timestamptz - b.length
           AND (NOT m."values" ? b.currency
                OR ((m."values" ->> b.currency)::numeric >= b.floor
                    AND ((m."values" ->> b.currency)::numeric < b.threshold
                         OR (b.threshold_in_band AND (m."values" ->> b.currency)::numeric = b.threshold))))
        OFFSET 0) m) m
 WHERE {_COUNTED}
"""


async def window_history(
    conn: asyncpg.Connection, customer_id: str, now: datetime, structuring: Sequence[Band]
) -> WindowHistory:
    """The customer's counted movements (see migrations 0014 and 0018 for what counts: not
    held calls rejected, expired or failed, not calls the exchange refused with a 4xx, a
    retried client order id once), summed so that every sum lies wholly inside or wholly
    outside each window (24 h, 7 d, 30 d back from `now`; movements stamped after `now`
    count, as another replica's clock may run ahead). One round trip."""
    edges = [_hour(now - length) for length in sorted(WINDOW_LENGTH.values())]
    day_edge, week_edge, month_edge = edges
    rows = await conn.fetch(
        _WINDOW_READ,
        uuid.UUID(customer_id), edges, _hour(now - _FINE), day_edge, week_edge, month_edge,
        [b.currency for b in structuring], [b.floor for b in structuring],
        [b.threshold for b in structuring], [b.threshold_in_band for b in structuring],
        [b.window for b in structuring], now - LOOKBACK, now,
    )  # fmt: skip
    sums: dict[tuple[datetime, str, str], dict[str, tuple[int, Decimal, Decimal]]] = {}
    history: list[PastMovement] = []
    banded: dict[int, PastMovement] = {}
    for row in rows:
        part = row["part"]
        if part == "sum":
            key = (row["occurred_at"], row["direction"], row["asset"])
            sums.setdefault(key, {})[row["currency"]] = (row["count"], row["amount"], row["value"])
        elif part == "cut":
            history.append(_single(row))
        else:
            banded[row["id"]] = _single(row)
    # Sums first, then the cut hours' movements: the order the sort below keeps for equal keys.
    history[:0] = [_summed(at, direction, asset, by) for (at, direction, asset), by in sums.items()]
    return WindowHistory(
        tuple(sorted(history, key=lambda p: (p.at, p.direction, p.asset))),
        tuple(sorted(banded.values(), key=lambda p: (p.at, p.direction, p.asset, p.amount))),
    )


def _summed(
    at: datetime, direction: str, asset: str, by_currency: Mapping[str, tuple[int, Decimal, Decimal]]
) -> PastMovement:
    count, amount, _ = by_currency.get("", (0, Decimal(0), Decimal(0)))
    valued = {c: v for c, v in by_currency.items() if c and v[0]}
    return PastMovement(
        at=at,
        direction=MovementDirection(direction),
        asset=asset,
        amount=amount,
        values=tuple((c, value) for c, (_, _, value) in sorted(valued.items())),
        count=count,
        unvalued=tuple((c, amount - part) for c, (_, part, _) in sorted(valued.items()) if part != amount),
    )


def _single(row: asyncpg.Record) -> PastMovement:
    return PastMovement(
        at=row["occurred_at"],
        direction=MovementDirection(row["direction"]),
        asset=row["asset"],
        amount=row["amount"],
        values=tuple((code, Decimal(value)) for code, value in sorted(row["values"].items())),
    )


def movement(
    *,
    customer_id: str,
    decision_id: uuid.UUID,
    direction: MovementDirection,
    asset: str,
    amount: Decimal,
    values: Mapping[str, Decimal],
    occurred_at: datetime,
    held: bool,
    external_id: str | None = None,
    client_order_id: str | None = None,
) -> Companion:
    """The movement's row, for the statement that commits its decision; its window buckets
    follow in the same statement (a trigger, migration 0014)."""
    return Companion(
        _INSERT,
        (
            uuid.UUID(customer_id), decision_id, direction.value, asset, amount,
            {code: str(value) for code, value in values.items()}, occurred_at, held, external_id,
            client_order_id,
        ),
    )  # fmt: skip


_INSERT = """INSERT INTO movements (customer_id, decision_id, direction, asset, amount, "values",
                                    occurred_at, held, external_id, client_order_id)
             VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9})"""
