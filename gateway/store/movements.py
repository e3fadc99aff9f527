"""Movements the AML windows count, and the per-customer lock that serialises them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from aml.facts import PastMovement
from aml.windows import WINDOW_LENGTH, MovementDirection

# The longest window any rule may use: older movements can never matter.
LOOKBACK: timedelta = max(WINDOW_LENGTH.values())
# Namespace of the advisory locks (the two-int form), so they cannot meet another
# subsystem's keys; the second int is derived from the customer id.
_LOCK_SPACE = 0x414D4C  # "AML"


async def lock_customer(conn: asyncpg.Connection, customer_id: str) -> None:
    """Until the transaction ends, no other replica decides a movement for this customer.
    A 32-bit hash may make two customers share a lock: they then queue, which is slow,
    never wrong."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_SPACE, customer_id)


async def recent(conn: asyncpg.Connection, customer_id: str, now: datetime) -> tuple[PastMovement, ...]:
    """The customer's movements in the longest window, as the money moved:
    - not withdrawals that were held and then rejected, expired or failed, nor ones the
      exchange refused outright (a 4xx): they never left. A timeout or a 5xx still
      counts: the money may have moved;
    - a call retried with the same client order id (withdrawOrderId), which the exchange
      takes as one, once: its first counted attempt. Refused attempts are left out
      first, so a retry after a rejection still counts.
    The decision row is looked up by its customer, time and id (its index); a movement
    without one counts on its own."""
    rows = await conn.fetch(
        """SELECT occurred_at, direction, asset, amount, "values" FROM (
               SELECT DISTINCT ON (m.direction, coalesce(d.client_order_id, m.decision_id::text))
                      m.occurred_at, m.direction, m.asset, m.amount, m."values"
                 FROM movements m
                 LEFT JOIN decisions d
                   ON d.customer_id = m.customer_id AND d.decided_at = m.occurred_at
                  AND d.id = m.decision_id
                WHERE m.customer_id = $1 AND m.occurred_at > $2
                  AND NOT (m.held AND EXISTS (
                        SELECT 1 FROM held_calls h
                         WHERE h.id = m.decision_id
                           AND h.state IN ('rejected', 'expired', 'forward_failed')))
                  AND NOT EXISTS (
                        SELECT 1 FROM upstream_results u
                         WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)
                ORDER BY m.direction, coalesce(d.client_order_id, m.decision_id::text), m.occurred_at
           ) counted
           ORDER BY occurred_at""",
        uuid.UUID(customer_id),
        now - LOOKBACK,
    )
    return tuple(
        PastMovement(
            at=row["occurred_at"],
            direction=MovementDirection(row["direction"]),
            asset=row["asset"],
            amount=row["amount"],
            values=tuple((code, Decimal(value)) for code, value in sorted(row["values"].items())),
        )
        for row in rows
    )


async def insert(
    conn: asyncpg.Connection,
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
) -> None:
    await conn.execute(
        """INSERT INTO movements (customer_id, decision_id, direction, asset, amount, "values",
                                  occurred_at, held, external_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        uuid.UUID(customer_id),
        decision_id,
        direction.value,
        asset,
        amount,
        {code: str(value) for code, value in values.items()},
        occurred_at,
        held,
        external_id,
    )

