"""Whether the exchange's answer to a forwarded held withdrawal describes that withdrawal.

The exchange answers a known idempotency key with the withdrawal it already holds under
that key, whatever this call asked for. So "200 with an id" proves only that some
withdrawal has the key: before the hold is recorded `forwarded`, the gateway reads the
exchange's record of it (withdraw history by withdrawOrderId, the answer carries only an
id) and compares what the customer's money does: coin, amount, address, network.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import quote

import asyncpg
import orjson

from gateway.feeds.upstream import Upstream, UpstreamAnswer
from gateway.review.keys import IDEMPOTENCY_PARAM

HISTORY_PATH: Final = "/sapi/v1/capital/withdraw/history"


class AnswerUnverified(Exception):
    """The exchange's record could not be read: the forward stays to be retried (same key)."""


async def withdrawal_mismatch(upstream: Upstream, hold: asyncpg.Record, answer: UpstreamAnswer) -> str | None:
    """None when the exchange's withdrawal under the hold's key is the held one; else what
    differs. Raises AnswerUnverified, UpstreamTimeout or UpstreamUnavailable."""
    key = hold["idempotency_key"]
    reply = await upstream.forward(
        "GET",
        f"{HISTORY_PATH}?{IDEMPOTENCY_PARAM}={quote(key, safe='')}",
        b"",
        None,
        str(hold["customer_id"]),
    )
    if reply.status != 200:
        raise AnswerUnverified(f"withdraw history answered {reply.status}")
    try:
        rows = orjson.loads(reply.body)
    except orjson.JSONDecodeError as exc:
        raise AnswerUnverified("withdraw history is not JSON") from exc
    answered_id = exchange_id(answer)
    found = [
        r
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict)
        and r.get(IDEMPOTENCY_PARAM) == key
        and (answered_id is None or str(r.get("id")) == answered_id)
    ]
    if not found:
        return f"no withdrawal under the key {key} matches the answer"
    return _difference(hold, found[0])


def exchange_id(answer: UpstreamAnswer) -> str | None:
    """The withdrawal id in the exchange's answer, if it names one."""
    try:
        parsed = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    found = parsed.get("id") if isinstance(parsed, dict) else None
    return str(found) if found is not None else None


def _difference(hold: asyncpg.Record, record: dict[str, Any]) -> str | None:
    differences = []
    if record.get("coin") != hold["asset"]:
        differences.append("coin")
    if record.get("address") != hold["address"]:
        differences.append("address")
    if hold["network"] is not None and record.get("network") != hold["network"]:
        differences.append("network")
    if not _same_amount(hold["amount"], record):
        differences.append("amount")
    return "the exchange's withdrawal differs in " + ", ".join(differences) if differences else None


def _same_amount(held: Decimal | None, record: dict[str, Any]) -> bool:
    """The amount sent is the held amount, or that less the fee (transactionFeeFlag)."""
    try:
        sent, fee = Decimal(str(record.get("amount"))), Decimal(str(record.get("transactionFee", "0")))
    except InvalidOperation:
        return False
    return held is not None and held in (sent, sent + fee)
