"""Deposits reported once: keyed on the deposit itself (network, transaction id, output
index), whatever the decision was. A refused deposit leaves no movement, so only this
table can tell a retrying poller, or a second replica, that the deposit is decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg


@dataclass(frozen=True)
class DepositReport:
    """What identifies a deposit, and what a repeat of its report must say again."""

    network: str  # as reported, or the coin's own name where the report names none
    tx_id: str
    output_index: int  # 0 where the chain has one output per deposit
    coin: str
    amount: Decimal
    from_address_hash: str | None  # keyed hash: compared, never stored as given

    @property
    def external_id(self) -> str:
        """The movement's id at the exchange. A network has no ':' and an index only
        digits, so the three parts read back unambiguously."""
        return f"{self.network}:{self.tx_id}:{self.output_index}"


@dataclass(frozen=True)
class FirstReport:
    decision_id: uuid.UUID
    outcome: str
    reasons: tuple[str, ...]
    differences: tuple[str, ...]  # the report fields that do not match the first report


async def first_report(
    conn: asyncpg.Connection, report: DepositReport, customer_id: str
) -> FirstReport | None:
    """The decision of the same deposit reported before, and what this report changes."""
    row = await conn.fetchrow(
        """SELECT customer_id, coin, amount, from_address_hash, decision_id, outcome, reasons
             FROM deposit_reports WHERE network = $1 AND tx_id = $2 AND output_index = $3""",
        report.network,
        report.tx_id,
        report.output_index,
    )
    if row is None:
        return None
    compared = {
        "customer_id": (row["customer_id"], uuid.UUID(customer_id)),
        "coin": (row["coin"], report.coin),
        "amount": (row["amount"], report.amount),
        "from_address": (row["from_address_hash"], report.from_address_hash),
    }
    return FirstReport(
        decision_id=row["decision_id"],
        outcome=row["outcome"],
        reasons=tuple(row["reasons"]),
        differences=tuple(name for name, (was, now) in compared.items() if was != now),
    )


async def record(
    conn: asyncpg.Connection,
    report: DepositReport,
    *,
    customer_id: str,
    decision_id: uuid.UUID,
    outcome: str,
    reasons: list[str],
    at: datetime,
) -> None:
    """In the decision's transaction. A racing report of the same deposit by a customer
    whose lock this one does not hold meets the primary key: UniqueViolationError."""
    await conn.execute(
        """INSERT INTO deposit_reports (network, tx_id, output_index, customer_id, coin, amount,
                                        from_address_hash, decision_id, outcome, reasons, reported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        report.network, report.tx_id, report.output_index, uuid.UUID(customer_id), report.coin,
        report.amount, report.from_address_hash, decision_id, outcome, reasons, at,
    )  # fmt: skip
